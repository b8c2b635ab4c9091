// Copies sent to another path (a mirror's `path`). Envoy's RequestMirrorPolicy can change a copy's
// Host and headers but not its path (Envoy 1.40 refuses `:path` in request_headers_mutations), so such
// a policy mirrors to an internal cluster whose one endpoint is an internal listener of the same name;
// that listener's route rewrites the path (regex_rewrite, the query kept) and forwards to the real
// mirror cluster. The internal cluster carries the real one's timeouts and circuit breakers, so a
// copy is bounded where Envoy counts it, at the mirror policy.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/other_features/internal_listener
import type { TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { Cluster, Listener, MirrorPath, MirrorPolicy } from '../model/types.js';
import { circuitBreakers, protocolOptions } from './cluster.js';
import { msToDuration } from './durations.js';
import { httpFilterChains } from './listener.js';
import { mirrorPathName } from './mirror-policy.js';

/** The regex_rewrite that turns the copy's path into the mirror's: the query stays as it is. */
export function mirrorPathRewrite(path: MirrorPath): { pattern: { regex: string }; substitution: string } {
  // The schema keeps `\` out of the value, so it is a literal substitution.
  return path.mode === 'replace' ? { pattern: { regex: '^[^?]*' }, substitution: path.value } : { pattern: { regex: '^(.*)$' }, substitution: `${path.value}\\1` };
}

interface PathTarget {
  readonly name: string;
  readonly cluster: string;
  readonly path: MirrorPath;
}

/** Every (cluster, path) a copy may be sent to; a header-selected mirror reaches each allowed cluster. */
function pathTargets(listeners: readonly Listener[]): PathTarget[] {
  const out = new Map<string, PathTarget>();
  const add = (list: readonly MirrorPolicy[]): void => {
    for (const m of list) {
      if (!m.path) continue;
      const clusters = m.target.kind === 'cluster' ? [m.target.cluster] : (m.target.allowed ?? []);
      for (const cluster of clusters) out.set(mirrorPathName(cluster, m.path), { name: mirrorPathName(cluster, m.path), cluster, path: m.path });
    }
  };
  for (const l of listeners) {
    add(l.mirrors);
    for (const v of l.virtualHosts) {
      add(v.mirrors);
      for (const r of v.routes) add(r.mirrors);
    }
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Some mirror of the listener sends copies to another path. */
export function hasMirrorPaths(l: Listener): boolean {
  return pathTargets([l]).length > 0;
}

function internalCluster(t: PathTarget, real: Cluster): TypedJson {
  const out: TypedJson = {
    '@type': TypeUrl.Cluster,
    name: t.name,
    type: 'STATIC',
    connect_timeout: msToDuration(real.connectTimeoutMs),
    load_assignment: {
      cluster_name: t.name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { envoy_internal_address: { server_listener_name: t.name } } } }] }],
    },
  };
  const cb = circuitBreakers(real);
  if (cb) out.circuit_breakers = cb;
  // The hop to the internal listener is HTTP/1 whatever the real cluster speaks.
  const po = protocolOptions({ ...real, http2: false });
  if (po) out.typed_extension_protocol_options = po;
  return out;
}

function internalListener(t: PathTarget): TypedJson {
  return { '@type': TypeUrl.Listener, name: t.name, internal_listener: {}, filter_chains: httpFilterChains(t.name, t.name) };
}

function internalRoutes(t: PathTarget): TypedJson {
  return {
    '@type': TypeUrl.RouteConfiguration,
    name: t.name,
    virtual_hosts: [
      {
        name: 'mirror',
        domains: ['*'],
        // timeout 0s: the copy is already bounded by the mirrored route's timeout and the clusters'.
        routes: [{ name: 'mirror', match: { prefix: '/' }, route: { cluster: t.cluster, timeout: '0s', regex_rewrite: mirrorPathRewrite(t.path) } }],
      },
    ],
  };
}

/** The internal clusters, listeners and route configurations that the listeners' path mirrors need. */
export function mirrorPathResources(listeners: readonly Listener[], clusters: readonly Cluster[]): { listeners: TypedJson[]; routes: TypedJson[]; clusters: TypedJson[] } {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const targets = pathTargets(listeners);
  return {
    listeners: targets.map(internalListener),
    routes: targets.map(internalRoutes),
    clusters: targets.map((t) => internalCluster(t, byName.get(t.cluster)!)),
  };
}
