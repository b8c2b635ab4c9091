// Cluster endpoints → ClusterLoadAssignment (served over EDS, or inline for DNS clusters).
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { Cluster } from '../model/types.js';

export function loadAssignment(c: Cluster): JsonObject {
  return {
    cluster_name: c.name,
    endpoints: [
      {
        lb_endpoints: c.endpoints.map((e) => {
          const lb: JsonObject = { endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } };
          if (e.weight !== undefined) lb.load_balancing_weight = e.weight;
          return lb;
        }),
      },
    ],
  };
}

export function buildClusterLoadAssignment(c: Cluster): TypedJson {
  return { '@type': TypeUrl.ClusterLoadAssignment, ...loadAssignment(c) };
}
