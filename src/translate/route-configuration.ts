// Listener's routes → RouteConfiguration (served over RDS, named after the listener).
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { HeaderMatch, HeaderMutation, Listener, MirrorPolicy, PathMatch, Route, RouteMatch, StringMatch, VirtualHost } from '../model/types.js';
import { msToDuration } from './durations.js';
import { mirrorCompareMetadata } from './mirror-compare.js';
import { headerValueOption, mirrorVariants, needsAllowlistVariants, requestMirrorPolicy } from './mirror-policy.js';

/** A StringMatch as Envoy's `present_match` or `string_match` field of a header or query parameter matcher. */
function matcherFields(m: StringMatch): JsonObject {
  switch (m.kind) {
    case 'present':
      return { present_match: true };
    case 'exact':
      return { string_match: { exact: m.value } };
    case 'prefix':
      return { string_match: { prefix: m.value } };
    case 'regex':
      return { string_match: { safe_regex: { regex: m.regex } } };
  }
}

function headerMatcher(h: HeaderMatch): JsonObject {
  const out: JsonObject = { name: h.name, ...matcherFields(h.match) };
  if (h.invert) out.invert_match = true;
  return out;
}

function pathSpecifier(p: PathMatch): JsonObject {
  switch (p.kind) {
    case 'prefix':
      return { prefix: p.value };
    case 'path_separated_prefix':
      return { path_separated_prefix: p.value };
    case 'path':
      return { path: p.value };
    case 'regex':
      return { safe_regex: { regex: p.regex } };
  }
}

function routeMatch(m: RouteMatch, extra: readonly JsonObject[]): JsonObject {
  const out: JsonObject = pathSpecifier(m.path);
  if (!m.caseSensitive) out.case_sensitive = false;
  const headers: JsonObject[] = m.headers.map(headerMatcher);
  if (m.methods.length === 1) headers.push({ name: ':method', string_match: { exact: m.methods[0]! } });
  else if (m.methods.length > 1) headers.push({ name: ':method', string_match: { safe_regex: { regex: m.methods.join('|') } } });
  headers.push(...extra);
  if (headers.length > 0) out.headers = headers;
  if (m.queryParameters.length > 0) out.query_parameters = m.queryParameters.map((q) => ({ name: q.name, ...matcherFields(q.match) }));
  return out;
}

function routeAction(r: Route, policies: readonly MirrorPolicy[]): JsonObject {
  const out: JsonObject =
    r.primary.kind === 'cluster'
      ? { cluster: r.primary.cluster }
      : { weighted_clusters: { clusters: r.primary.clusters.map((c) => ({ name: c.cluster, weight: c.weight })) } };
  if (r.prefixRewrite !== undefined) out.prefix_rewrite = r.prefixRewrite;
  if (r.regexRewrite !== undefined) out.regex_rewrite = { pattern: { regex: r.regexRewrite.pattern }, substitution: r.regexRewrite.substitution };
  if (r.hostRewrite !== undefined) out.host_rewrite_literal = r.hostRewrite;
  if (r.timeoutMs !== undefined) out.timeout = msToDuration(r.timeoutMs);
  if (policies.length > 0) out.request_mirror_policies = policies.map(requestMirrorPolicy);
  return out;
}

/** Route-level request_headers_to_add / _to_remove (Envoy removes first, then adds in order). */
function addRequestHeaderMutations(route: JsonObject, mutations: readonly HeaderMutation[]): void {
  const toAdd = mutations.flatMap((m) => (m.op === 'remove' ? [] : [headerValueOption(m)]));
  const toRemove = mutations.flatMap((m) => (m.op === 'remove' ? [m.name] : []));
  if (toAdd.length > 0) route.request_headers_to_add = toAdd;
  if (toRemove.length > 0) route.request_headers_to_remove = toRemove;
}

/**
 * A route, expanded into allowlist variants when its effective mirrors need them. `inherited` is the
 * list it inherits (virtual host's, else listener's); `pushDown` when that list is emitted here.
 */
function routes(r: Route, inherited: readonly MirrorPolicy[], pushDown: boolean): JsonObject[] {
  const own = r.mirrors.length > 0 ? r.mirrors : pushDown ? inherited : [];
  return mirrorVariants(own).map((v) => {
    const out: JsonObject = { name: r.name + v.nameSuffix, match: routeMatch(r.match, v.headerConditions), route: routeAction(r, v.policies) };
    addRequestHeaderMutations(out, r.requestHeaderMutations);
    // The policies in effect on this route, wherever they are emitted.
    const metadata = mirrorCompareMetadata(own.length > 0 ? v.policies : inherited);
    if (metadata) out.metadata = metadata;
    return out;
  });
}

/**
 * Envoy applies the most specific non-empty mirror list (route, then virtual host, then route
 * configuration). A list whose allowlists need route variants cannot stay at its level, so it is
 * pushed down to the routes that would inherit it; the result is the same for every request.
 */
function virtualHost(v: VirtualHost, listenerMirrors: readonly MirrorPolicy[]): JsonObject {
  const ownList = v.mirrors.length > 0 ? v.mirrors : null;
  const inheritedList = ownList ?? listenerMirrors;
  const pushDown = needsAllowlistVariants(inheritedList);
  const out: JsonObject = { name: v.name, domains: [...v.domains], routes: v.routes.flatMap((r) => routes(r, inheritedList, pushDown)) };
  if (ownList && !pushDown) out.request_mirror_policies = ownList.map(requestMirrorPolicy);
  return out;
}

export function routeConfigurationName(l: Listener): string {
  return l.name;
}

export function buildRouteConfiguration(l: Listener): TypedJson {
  const out: TypedJson = {
    '@type': TypeUrl.RouteConfiguration,
    name: routeConfigurationName(l),
    virtual_hosts: l.virtualHosts.map((v) => virtualHost(v, l.mirrors)),
  };
  if (l.mirrors.length > 0 && !needsAllowlistVariants(l.mirrors)) out.request_mirror_policies = l.mirrors.map(requestMirrorPolicy);
  return out;
}
