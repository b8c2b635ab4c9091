// Config → Model: names resolved, defaults applied, runtime keys fixed, the result frozen.
// Input is a config that passed validation, so references are known to resolve.
import { isIpLiteral, parseHostPort } from '../config/address.js';
import { defaultRuntimeKey, routeKey, type MirrorScope } from '../config/runtime-keys.js';
import {
  DURATION_RE,
  type ClusterConfig,
  type CompareConfig,
  type ConfigFile,
  type HeaderChangesConfig,
  type HeaderListConfig,
  type ListenerConfig,
  type MirrorConfig,
  type RouteConfig,
} from '../config/schema.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../envoy-api/envoy-defaults.js';
import { MIRROR_HEADER_MUTATIONS, MIRROR_HOST_REWRITE, maxVersion } from './envoy-versions.js';
import { fractionFromPercent, normalizeFraction } from './fraction.js';
import { GenerationMemo } from '../memo/generation-memo.js';
import { deepFreeze } from './freeze.js';
import type { Cluster, EnvoyFeature, HeaderMutation, Listener, MirrorPolicy, Model, PathMatch, ResponseCompare, Route, RouteMatch, StringMatch } from './types.js';

/** compare's defaults: the header that most often reveals a changed response, and 64 KiB of body. */
const DEFAULT_COMPARE_HEADERS: readonly string[] = ['content-type'];
const DEFAULT_COMPARE_MAX_BODY_BYTES = 65_536;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function durationToMs(text: string): number {
  const m = DURATION_RE.exec(text)!;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

function headerEntries(list: HeaderListConfig | undefined): Array<[string, string]> {
  if (!list) return [];
  if (Array.isArray(list)) return list.map((h) => [h.name.toLowerCase(), h.value]);
  return Object.entries(list).map(([k, v]) => [k.toLowerCase(), v]);
}

function buildCompare(c: CompareConfig): ResponseCompare {
  return {
    headers: [...(c.headers ?? DEFAULT_COMPARE_HEADERS)],
    ignoreJsonPaths: [...(c.ignore_json_paths ?? [])],
    maxBodyBytes: c.max_body_bytes ?? DEFAULT_COMPARE_MAX_BODY_BYTES,
  };
}

class FeatureLog {
  readonly used: EnvoyFeature[] = [];
  note(f: { feature: string; minEnvoyVersion: string }, where: string): string {
    this.used.push({ ...f, where });
    return f.minEnvoyVersion;
  }
}

function headerMutations(h: HeaderChangesConfig | undefined): HeaderMutation[] {
  return [
    ...headerEntries(h?.add).map(([name, value]) => ({ op: 'add' as const, name, value })),
    ...headerEntries(h?.set).map(([name, value]) => ({ op: 'set' as const, name, value })),
    ...(h?.remove ?? []).map((name) => ({ op: 'remove' as const, name })),
  ];
}

function stringMatch(m: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined }): StringMatch {
  if (m.exact !== undefined) return { kind: 'exact', value: m.exact };
  if (m.prefix !== undefined) return { kind: 'prefix', value: m.prefix };
  if (m.regex !== undefined) return { kind: 'regex', regex: m.regex };
  return { kind: 'present' };
}

function buildMirror(m: MirrorConfig, scope: MirrorScope, where: string, features: FeatureLog): MirrorPolicy {
  const mutations = headerMutations(m.headers);
  const versions: string[] = [];
  if (mutations.length > 0) versions.push(features.note(MIRROR_HEADER_MUTATIONS, where));
  if (m.host_rewrite !== undefined) versions.push(features.note(MIRROR_HOST_REWRITE, where));
  return {
    target:
      m.cluster !== undefined
        ? { kind: 'cluster', cluster: m.cluster }
        : { kind: 'header', header: m.cluster_header!, allowed: m.allowed_clusters ? [...m.allowed_clusters] : null },
    fraction: m.fraction ? normalizeFraction(m.fraction) : fractionFromPercent(m.percent ?? 100),
    runtimeKey: m.runtime_key ?? defaultRuntimeKey(scope, m),
    shadowHostSuffix: m.shadow_host_suffix ?? true,
    hostRewrite: m.host_rewrite,
    headerMutations: mutations,
    traceSampled: m.trace_sampled,
    compare: m.compare && buildCompare(m.compare),
    path: m.path && { value: m.path.value, mode: m.path.mode ?? 'replace' },
    minEnvoyVersion: maxVersion(versions),
  };
}

function buildMirrors(list: readonly MirrorConfig[] | undefined, scope: MirrorScope, where: string, features: FeatureLog): MirrorPolicy[] {
  return (list ?? []).map((m, i) => buildMirror(m, scope, `${where}.mirrors[${i}]`, features));
}

function buildPath(m: RouteConfig['match']): PathMatch {
  if (m.prefix !== undefined) return { kind: 'prefix', value: m.prefix };
  if (m.path_separated_prefix !== undefined) return { kind: 'path_separated_prefix', value: m.path_separated_prefix };
  if (m.path !== undefined) return { kind: 'path', value: m.path };
  return { kind: 'regex', regex: m.regex! };
}

function buildMatch(r: RouteConfig): RouteMatch {
  const m = r.match;
  return {
    path: buildPath(m),
    caseSensitive: m.case_sensitive ?? true,
    headers: (m.headers ?? []).map((h) => ({ name: h.name, match: stringMatch(h), invert: h.invert ?? false })),
    queryParameters: (m.query_parameters ?? []).map((q) => ({ name: q.name, match: stringMatch(q) })),
    methods: [...(m.methods ?? [])],
  };
}

function buildRoute(r: RouteConfig, index: number, scope: MirrorScope, where: string, features: FeatureLog): Route {
  return {
    name: routeKey(r.name, index),
    match: buildMatch(r),
    primary:
      r.cluster !== undefined
        ? { kind: 'cluster', cluster: r.cluster }
        : { kind: 'weighted', clusters: r.weighted_clusters!.map((w) => ({ cluster: w.cluster, weight: w.weight })) },
    timeoutMs: r.timeout !== undefined ? durationToMs(r.timeout) : undefined,
    prefixRewrite: r.prefix_rewrite,
    regexRewrite: r.regex_rewrite && { pattern: r.regex_rewrite.pattern, substitution: r.regex_rewrite.substitution },
    hostRewrite: r.host_rewrite,
    requestHeaderMutations: headerMutations(r.request_headers),
    mirrors: buildMirrors(r.mirrors, scope, where, features),
  };
}

function buildCluster(c: ClusterConfig): Cluster {
  const endpoints = c.endpoints.map((e) => {
    const text = typeof e === 'string' ? e : e.address;
    const hp = parseHostPort(text)!;
    return { host: hp.host, port: hp.port, weight: typeof e === 'string' ? undefined : e.weight };
  });
  const allIps = endpoints.every((e) => isIpLiteral(e.host));
  const discovery = c.type === 'strict_dns' || c.type === 'logical_dns' ? c.type : allIps ? 'eds' : 'strict_dns';
  const tls = c.tls === undefined || c.tls === false ? null : { sni: c.tls === true ? undefined : c.tls.sni };
  const cb = c.circuit_breakers;
  return {
    name: c.name,
    discovery,
    endpoints,
    connectTimeoutMs: c.connect_timeout !== undefined ? durationToMs(c.connect_timeout) : DEFAULT_CONNECT_TIMEOUT_MS,
    maxStreamDurationMs: c.max_stream_duration !== undefined ? durationToMs(c.max_stream_duration) : undefined,
    http2: c.http2 ?? false,
    dnsLookupFamily: c.dns_lookup_family,
    tls,
    circuitBreakers: cb && {
      maxConnections: cb.max_connections,
      maxPendingRequests: cb.max_pending_requests,
      maxRequests: cb.max_requests,
      maxRetries: cb.max_retries,
    },
  };
}

function buildListener(l: ListenerConfig, li: number): { readonly listener: Listener; readonly features: readonly EnvoyFeature[] } {
  const features = new FeatureLog();
  const hp = parseHostPort(l.address)!;
  const lw = `listeners[${li}]`;
  const listener: Listener = {
    name: l.name,
    host: hp.host,
    port: hp.port,
    nodes: (l.nodes ?? []).map((n) => ({ id: n.id, cluster: n.cluster })),
    mirrors: buildMirrors(l.mirrors, { listener: l.name }, lw, features),
    virtualHosts: l.virtual_hosts.map((v, vi) => {
      const vw = `${lw}.virtual_hosts[${vi}]`;
      return {
        name: v.name,
        domains: v.domains.map((d) => d.toLowerCase()),
        mirrors: buildMirrors(v.mirrors, { listener: l.name, virtualHost: v.name }, vw, features),
        routes: v.routes.map((r, ri) =>
          buildRoute(r, ri, { listener: l.name, virtualHost: v.name, route: routeKey(r.name, ri) }, `${vw}.routes[${ri}]`, features),
        ),
      };
    }),
  };
  return deepFreeze({ listener, features: features.used });
}

/**
 * Compiles validated configs into frozen models, one config version after another. A listener or
 * cluster of the config that is the very object of the previous version (the incremental parser
 * returns unchanged entries as they were) is not built again: its model is the previous one, so the
 * translation and encoding keyed on it are reused as well.
 */
export class ModelBuilder {
  private readonly listeners = new GenerationMemo<ListenerConfig, ReturnType<typeof buildListener>>();
  private readonly clusters = new GenerationMemo<ClusterConfig, Cluster>();

  build(config: ConfigFile): Model {
    this.listeners.nextGeneration();
    this.clusters.nextGeneration();
    // A listener's features name where they are used by its index, so the index is part of the key.
    const built = config.listeners.map((l, li) => this.listeners.get(l, li, () => buildListener(l, li)));
    const features = built.flatMap((b) => b.features);
    return deepFreeze({
      listeners: built.map((b) => b.listener),
      clusters: config.clusters.map((c) => this.clusters.get(c, undefined, () => deepFreeze(buildCluster(c)))),
      features,
      minEnvoyVersion: maxVersion(features.map((f) => f.minEnvoyVersion)),
    });
  }
}

/** Compiles a validated config into the frozen model. */
export function buildModel(config: ConfigFile): Model {
  return new ModelBuilder().build(config);
}
