// Feeds rendered resources to a real Envoy through filesystem xDS, as binary DiscoveryResponses
// encoded by shadowplane's own codec: the bytes Envoy parses are the bytes the ADS server will send.
// Only the config sources change (ADS → a file per resource, as Envoy's file subscriptions need).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResourceSet } from '../../src/envoy-api/resource-set.js';
import { encodeAs, type JsonObject, type TypedJson } from '../../src/envoy-api/proto-json.js';
import { TypeUrl } from '../../src/envoy-api/type-urls.js';
import { BOOTSTRAP_EXTENSIONS } from '../../src/translate/bootstrap.js';

function fileSource(file: string): JsonObject {
  return { path_config_source: { path: file }, resource_api_version: 'V3' };
}

async function writeResponse(file: string, typeUrl: string, resources: readonly TypedJson[]): Promise<void> {
  const bytes = encodeAs('envoy.service.discovery.v3.DiscoveryResponse', { version_info: '1', type_url: typeUrl, resources: [...resources] });
  await writeFile(file, bytes);
}

/** Writes lds.pb, cds.pb and one file per route configuration and load assignment; returns the bootstrap. */
export async function writeFileXds(r: ResourceSet, dir: string, adminPort: number): Promise<JsonObject> {
  const f = (name: string): string => path.join(dir, name);
  const listeners = r.listeners.map((l) => {
    const copy = structuredClone(l) as TypedJson & { filter_chains: Array<{ filters: Array<{ typed_config: JsonObject }> }> };
    for (const fc of copy.filter_chains) {
      for (const filter of fc.filters) {
        const rds = filter.typed_config.rds as JsonObject | undefined;
        if (rds) rds.config_source = fileSource(f(`rds-${String(rds.route_config_name)}.pb`));
      }
    }
    return copy;
  });
  const clusters = r.clusters.map((c) => {
    const copy = structuredClone(c) as TypedJson;
    if (copy.eds_cluster_config) copy.eds_cluster_config = { eds_config: fileSource(f(`eds-${String(c.name)}.pb`)) };
    return copy;
  });
  await writeResponse(f('lds.pb'), TypeUrl.Listener, listeners);
  await writeResponse(f('cds.pb'), TypeUrl.Cluster, clusters);
  for (const rc of r.routes) await writeResponse(f(`rds-${String(rc.name)}.pb`), TypeUrl.RouteConfiguration, [rc]);
  for (const cla of r.endpoints) await writeResponse(f(`eds-${String(cla.cluster_name)}.pb`), TypeUrl.ClusterLoadAssignment, [cla]);
  return {
    node: { id: 'file-xds-test', cluster: 'test' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    bootstrap_extensions: BOOTSTRAP_EXTENSIONS,
    dynamic_resources: { lds_config: fileSource(f('lds.pb')), cds_config: fileSource(f('cds.pb')) },
  };
}
