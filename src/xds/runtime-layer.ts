// Mirror percentages travel over RTDS: each policy's runtime_key gets its value from one Runtime
// resource, so an edit that only changes percentages pushes that resource and leaves every route
// byte-identical. Routes keep a 0% default: Envoy loads RTDS layers before it initializes clusters and
// listeners, so the default only applies to an Envoy whose bootstrap lacks the layer (status warns).
import { RTDS_LAYER_NAME } from '../envoy-api/metadata.js';
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';

export const DETACHED_DEFAULT: JsonObject = { numerator: 0, denominator: 'HUNDRED' };

type Policy = JsonObject & { runtime_fraction?: { default_value: JsonObject; runtime_key: string } };

function detach(policies: unknown, layer: JsonObject): void {
  if (!Array.isArray(policies)) return;
  for (const p of policies as Policy[]) {
    const rf = p.runtime_fraction;
    if (!rf) continue;
    layer[rf.runtime_key] = rf.default_value;
    rf.default_value = DETACHED_DEFAULT;
  }
}

/** One route configuration with its mirror fractions moved out: the copy, and runtime_key → FractionalPercent. The input is not changed. */
export function detachRouteConfiguration(rc: TypedJson): { route: TypedJson; layer: JsonObject } {
  const layer: JsonObject = {};
  const copy = structuredClone(rc) as TypedJson & {
    request_mirror_policies?: unknown;
    virtual_hosts?: Array<{ request_mirror_policies?: unknown; routes?: Array<{ route?: { request_mirror_policies?: unknown } }> }>;
  };
  detach(copy.request_mirror_policies, layer);
  for (const vh of copy.virtual_hosts ?? []) {
    detach(vh.request_mirror_policies, layer);
    for (const r of vh.routes ?? []) detach(r.route?.request_mirror_policies, layer);
  }
  return { route: copy, layer };
}

/** The runtime layer of several route configurations' detached fractions, keys sorted. */
export function mergeLayers(layers: readonly JsonObject[]): JsonObject {
  const all: JsonObject = Object.assign({}, ...layers);
  const sorted: JsonObject = {};
  for (const k of Object.keys(all).sort()) sorted[k] = all[k]!;
  return sorted;
}

export function runtimeResource(layer: JsonObject): TypedJson {
  return { '@type': TypeUrl.Runtime, name: RTDS_LAYER_NAME, layer };
}
