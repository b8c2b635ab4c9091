// A ResourceSet's listeners, routes, clusters and endpoints → one DataPlaneConfig, or every problem found in them. Like an Envoy NACK,
// any problem rejects the whole set.
import type { TypedJson } from '../../envoy-api/proto-json.js';
import type { ResourceSet } from '../../envoy-api/resource-set.js';
import { TypeUrl } from '../../envoy-api/type-urls.js';
import type { ClusterSpec, DataPlaneConfig, EndpointSpec, ListenerSpec, RouteConfigSpec } from '../data-plane-config.js';
import type { ResourceProblem } from '../errors.js';
import { parseCluster, parseLoadAssignment, type ParsedCluster } from './parse-cluster.js';
import { parseListener } from './parse-listener.js';
import { parseRouteConfiguration } from './parse-route-configuration.js';
import { JsonFields, ProblemList } from './resource-reader.js';

export type ParseResult = { readonly ok: true; readonly config: DataPlaneConfig } | { readonly ok: false; readonly problems: readonly ResourceProblem[] };

function eachResource<T>(list: readonly TypedJson[], kind: string, typeUrl: string, problems: ProblemList, parse: (f: JsonFields) => T | undefined): T[] {
  return list.flatMap((r, i) => {
    const f = JsonFields.open(r, `${kind}[${i}]`, problems);
    if (!f) return [];
    if (f.string('@type') !== typeUrl) {
      f.problem(`expected @type ${typeUrl}`, '@type');
      return [];
    }
    return parse(f) ?? [];
  });
}

function uniqueBy<T>(items: readonly T[], key: (t: T) => string, kind: string, what: string, problems: ProblemList): Map<string, T> {
  const out = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    if (out.has(k)) problems.add(kind, `duplicate ${what} "${k}"`);
    out.set(k, item);
  }
  return out;
}

function withEndpoints(c: ParsedCluster, assignments: ReadonlyMap<string, EndpointSpec[]>): ClusterSpec {
  // An EDS cluster whose assignment has not arrived has no endpoints yet: requests get 503.
  const endpoints = c.type === 'EDS' ? (assignments.get(c.edsServiceName) ?? []) : c.inlineEndpoints;
  const { name, connectTimeoutMs, maxStreamDurationMs, http2, dnsFamily, tls, limits } = c;
  return { name, connectTimeoutMs, maxStreamDurationMs, http2, dnsFamily, tls, limits, endpoints };
}

/** Reads listeners, routes, clusters and endpoints; runtime layers are the caller's (DataPlane.apply takes their values). */
export function parseResources(r: ResourceSet): ParseResult {
  const problems = new ProblemList();
  const parsedListeners = eachResource(r.listeners, 'listeners', TypeUrl.Listener, problems, parseListener);
  const listeners: ListenerSpec[] = parsedListeners.flatMap((l) => (l.internal ? [] : [l.spec]));
  const internal = parsedListeners.flatMap((l) => (l.internal ? [l.spec] : []));
  const routes: RouteConfigSpec[] = eachResource(r.routes, 'routes', TypeUrl.RouteConfiguration, problems, parseRouteConfiguration);
  const clusters = eachResource(r.clusters, 'clusters', TypeUrl.Cluster, problems, parseCluster);
  const assignments = eachResource(r.endpoints, 'endpoints', TypeUrl.ClusterLoadAssignment, problems, (f) => {
    const name = f.name('cluster_name');
    const endpoints = parseLoadAssignment(f, false);
    return name === undefined ? undefined : { name, endpoints };
  });

  uniqueBy(parsedListeners, (l) => l.spec.name, 'listeners', 'listener name', problems);
  uniqueBy(listeners, (l) => `${l.host}:${l.port}`, 'listeners', 'listener address', problems);
  const routeConfigs = uniqueBy(routes, (rc) => rc.name, 'routes', 'route configuration name', problems);
  const parsedClusters = uniqueBy(clusters, (c) => c.name, 'clusters', 'cluster name', problems);
  const byService = uniqueBy(assignments, (a) => a.name, 'endpoints', 'ClusterLoadAssignment for', problems);
  // Names of route configurations that failed to parse count too: their problems are reported already.
  const routeNames = new Set(r.routes.map((rc) => rc.name));
  for (const { spec: l } of parsedListeners) {
    if (!routeNames.has(l.routeConfigName)) problems.add(`listener "${l.name}"`, `names unknown route configuration "${l.routeConfigName}"`);
  }
  // Copies sent through an internal listener are forwarded, not mirrored again (internal-listener.ts).
  for (const l of internal) {
    const routes = routeConfigs.get(l.routeConfigName);
    if (routes?.virtualHosts.values().some((v) => v.routes.some((rt) => rt.mirrorPolicies.length > 0))) {
      problems.add(`listener "${l.name}"`, `mirror policies on the routes of an internal listener are not supported (route configuration "${l.routeConfigName}")`);
    }
  }

  if (problems.items.length > 0) return { ok: false, problems: problems.items };
  const endpointsByService = new Map([...byService].map(([k, a]) => [k, a.endpoints]));
  return {
    ok: true,
    config: {
      listeners,
      internalListeners: new Map(internal.map((l) => [l.name, routeConfigs.get(l.routeConfigName)!])),
      routeConfigs,
      clusters: new Map([...parsedClusters].map(([k, c]) => [k, withEndpoints(c, endpointsByService)])),
    },
  };
}
