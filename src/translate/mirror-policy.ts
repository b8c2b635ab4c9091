// MirrorPolicy → Envoy's RouteAction.RequestMirrorPolicy, and the route variants that make Envoy
// itself enforce a header-selected mirror's allowlist.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction-requestmirrorpolicy
import { createHash } from 'node:crypto';
import type { JsonObject } from '../envoy-api/proto-json.js';
import type { HeaderMutation, MirrorPath, MirrorPolicy } from '../model/types.js';

/** An add or set as Envoy's HeaderValueOption (used by mirror mutations and route request headers alike). */
export function headerValueOption(h: HeaderMutation & { readonly op: 'add' | 'set' }): JsonObject {
  return { header: { key: h.name, value: h.value }, append_action: h.op === 'set' ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD' };
}

/**
 * The internal cluster, listener and route configuration that carry copies to `cluster` at `path`
 * (mirror-path.ts). The `:` keeps it apart from every configured name (letters, digits, `.`, `_`, `-`).
 */
export function mirrorPathName(cluster: string, path: MirrorPath): string {
  const digest = createHash('sha256').update(`${path.mode}\n${path.value}`).digest('hex').slice(0, 8);
  return `mirror-path:${cluster}:${digest}`;
}

/** The cluster Envoy mirrors to: a copy to another path goes through the internal listener that rewrites it. */
export function mirrorClusterName(cluster: string, path: MirrorPath | undefined): string {
  return path ? mirrorPathName(cluster, path) : cluster;
}

function headerMutation(h: HeaderMutation): JsonObject {
  return h.op === 'remove' ? { remove: h.name } : { append: headerValueOption(h) };
}

export function requestMirrorPolicy(m: MirrorPolicy): JsonObject {
  const out: JsonObject = m.target.kind === 'cluster' ? { cluster: mirrorClusterName(m.target.cluster, m.path) } : { cluster_header: m.target.header };
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

type Gated = MirrorPolicy & { readonly target: { readonly kind: 'header'; readonly header: string; readonly allowed: readonly string[] } };

function isGated(m: MirrorPolicy): m is Gated {
  return m.target.kind === 'header' && m.target.allowed !== null;
}

/**
 * Envoy mirrors to whatever cluster a `cluster_header` names, so an allowlist is enforced with route
 * variants: for each combination of allowed values (most headers first), a variant that matches only
 * when each header carries that value and mirrors to that value as a fixed `cluster`; last, the
 * route with no extra condition and none of those policies. The fixed cluster matters: with a
 * repeated header Envoy matches a condition on any value but `cluster_header` takes the first one,
 * so `[evil, allowed]` would match the variant for `allowed` and mirror to `evil`.
 */
export function mirrorVariants(list: readonly MirrorPolicy[]): MirrorVariant[] {
  const gated = list.filter(isGated);
  if (gated.length === 0) return [{ nameSuffix: '', headerConditions: [], policies: list }];
  // Each gated policy either takes one of its allowed values or stays out (undefined).
  let choices: Array<Array<string | undefined>> = [[]];
  for (const g of gated) choices = choices.flatMap((c) => [...g.target.allowed, undefined].map((v) => [...c, v]));
  const chosen = (c: Array<string | undefined>): number => c.filter((v) => v !== undefined).length;
  choices.sort((a, b) => chosen(b) - chosen(a));
  return choices.map((c) => {
    const pinned = new Map(gated.flatMap((g, i) => (c[i] === undefined ? [] : [[g, c[i]!] as const])));
    return {
      nameSuffix: [...pinned].map(([g, v]) => `/mirror:${g.target.header}=${v}`).join(''),
      headerConditions: [...pinned].map(([g, v]) => ({ name: g.target.header, string_match: { exact: v } })),
      policies: list.flatMap((m): MirrorPolicy[] => {
        if (!isGated(m)) return [m];
        const v = pinned.get(m);
        return v === undefined ? [] : [{ ...m, target: { kind: 'cluster', cluster: v } }];
      }),
    };
  });
}
