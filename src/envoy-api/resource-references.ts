// Which resources other resources name, read the way Envoy reads them: an EDS cluster takes the
// ClusterLoadAssignment named by eds_cluster_config.service_name (else its own name), a listener's
// HTTP connection managers take RouteConfigurations by rds.route_config_name. The snapshot
// consistency check, the ADS streams and the xDS clients all follow references through here.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto#config-cluster-v3-cluster-edsclusterconfig
import type { JsonObject } from './proto-json.js';

/** The ClusterLoadAssignment an EDS cluster reads; undefined for a cluster of another type. */
export function edsServiceName(cluster: JsonObject): string | undefined {
  if (cluster.type !== 'EDS') return undefined;
  const eds = cluster.eds_cluster_config;
  const service = typeof eds === 'object' && eds !== null && !Array.isArray(eds) ? eds.service_name : undefined;
  return typeof service === 'string' && service !== '' ? service : String(cluster.name ?? '');
}

/** The RouteConfiguration names a listener takes over RDS, in the order they appear. */
export function rdsRouteConfigNames(listener: JsonObject): string[] {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'route_config_name' && typeof x === 'string') names.add(x);
        else walk(x);
      }
    }
  };
  walk(listener);
  return [...names];
}

export interface ResourceReferences {
  /** ClusterLoadAssignment names the clusters read over EDS, sorted. */
  readonly endpoints: readonly string[];
  /** RouteConfiguration names the listeners read over RDS, sorted. */
  readonly routes: readonly string[];
}

/** What a set of clusters and listeners names: what an Envoy-like client subscribes to over EDS and RDS. */
export function resourceReferences(r: { readonly clusters?: readonly JsonObject[]; readonly listeners?: readonly JsonObject[] }): ResourceReferences {
  const endpoints = new Set((r.clusters ?? []).flatMap((c) => edsServiceName(c) ?? []));
  const routes = new Set((r.listeners ?? []).flatMap(rdsRouteConfigNames));
  return { endpoints: [...endpoints].sort(), routes: [...routes].sort() };
}
