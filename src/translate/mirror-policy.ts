// MirrorPolicy → Envoy's RouteAction.RequestMirrorPolicy, and the route variants that make Envoy
// itself enforce a header-selected mirror's allowlist.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction-requestmirrorpolicy
import type { JsonObject } from '../envoy-api/proto-json.js';
import type { HeaderMutation, MirrorPolicy } from '../model/types.js';

function headerMutation(h: HeaderMutation): JsonObject {
  if (h.op === 'remove') return { remove: h.name };
  return {
    append: {
      header: { key: h.name, value: h.value },
      append_action: h.op === 'set' ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD',
    },
  };
}

export function requestMirrorPolicy(m: MirrorPolicy): JsonObject {
  const out: JsonObject = m.target.kind === 'cluster' ? { cluster: m.target.cluster } : { cluster_header: m.target.header };
  out.runtime_fraction = {
    default_value: { numerator: m.fraction.numerator, denominator: m.fraction.denominator },
    runtime_key: m.runtimeKey,
  };
  if (m.traceSampled !== undefined) out.trace_sampled = m.traceSampled;
  if (!m.shadowHostSuffix) out.disable_shadow_host_suffix_append = true;
  if (m.headerMutations.length > 0) out.request_headers_mutations = m.headerMutations.map(headerMutation);
  if (m.hostRewrite !== undefined) out.host_rewrite_literal = m.hostRewrite;
  return out;
}

/** True when Envoy can only honour the list's allowlists through route variants. */
export function needsAllowlistVariants(list: readonly MirrorPolicy[]): boolean {
  return list.some((m) => m.target.kind === 'header' && m.target.allowed !== null);
}

/** One way a route is emitted: extra header conditions and the mirror policies it then carries. */
export interface MirrorVariant {
  readonly nameSuffix: string;
  readonly headerConditions: readonly JsonObject[];
  readonly policies: readonly MirrorPolicy[];
}

function allowlistCondition(header: string, allowed: readonly string[]): JsonObject {
  // Cluster names hold only [A-Za-z0-9._-]; "." is the one regex metacharacter among them.
  const stringMatch: JsonObject =
    allowed.length === 1 ? { exact: allowed[0]! } : { safe_regex: { regex: allowed.map((c) => c.replace(/\./g, '\\.')).join('|') } };
  return { name: header, string_match: stringMatch };
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x; x &= x - 1) c++;
  return c;
}

/**
 * Envoy mirrors to whatever cluster a `cluster_header` names. To honour an allowlist, the route is
 * emitted once per subset of allowlisted header policies, most specific first: a variant matches only
 * when each of its headers names an allowed cluster, and carries those policies; the last variant has
 * no extra condition and carries none of them. A request therefore hits exactly the variant whose
 * subset is the set of headers that hold allowed values. (Envoy joins repeated headers with ",", so a
 * second value never matches an allowlist.)
 */
export function mirrorVariants(list: readonly MirrorPolicy[]): MirrorVariant[] {
  const gated = list.filter((m) => m.target.kind === 'header' && m.target.allowed !== null);
  if (gated.length === 0) return [{ nameSuffix: '', headerConditions: [], policies: list }];
  const masks = Array.from({ length: 1 << gated.length }, (_, i) => i).sort((a, b) => popcount(b) - popcount(a) || b - a);
  return masks.map((mask) => {
    const chosen = gated.filter((_, i) => mask & (1 << i));
    const dropped = new Set(gated.filter((_, i) => !(mask & (1 << i))));
    return {
      nameSuffix: chosen.map((m) => `/mirror-allowed:${(m.target as { header: string }).header}`).join(''),
      headerConditions: chosen.map((m) => {
        const t = m.target as { header: string; allowed: readonly string[] };
        return allowlistCondition(t.header, t.allowed);
      }),
      policies: list.filter((m) => !dropped.has(m)),
    };
  });
}
