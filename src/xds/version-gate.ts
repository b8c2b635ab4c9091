// Proxies older than a feature's minimum Envoy version would NACK resources that carry it. They get
// the nearest form they understand (the field left out) and their status says what was left out.
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { compareVersions } from '../model/envoy-versions.js';
import { MIRROR_HEADER_MUTATIONS, MIRROR_HOST_REWRITE } from '../model/envoy-versions.js';

const MIRROR_FIELDS = [
  { field: 'request_headers_mutations', ...MIRROR_HEADER_MUTATIONS },
  { field: 'host_rewrite_literal', ...MIRROR_HOST_REWRITE },
] as const;

/** The oldest Envoy that needs no gating. */
export const UNGATED_ENVOY = MIRROR_FIELDS.map((f) => f.minEnvoyVersion).sort(compareVersions).at(-1)!;

export function needsGating(envoyVersion: string | undefined): boolean {
  return envoyVersion !== undefined && compareVersions(envoyVersion, UNGATED_ENVOY) < 0;
}

function strip(policies: unknown, envoyVersion: string, where: string, warnings: Set<string>): void {
  if (!Array.isArray(policies)) return;
  for (const p of policies as JsonObject[]) {
    for (const f of MIRROR_FIELDS) {
      if (p[f.field] === undefined || compareVersions(envoyVersion, f.minEnvoyVersion) >= 0) continue;
      delete p[f.field];
      warnings.add(`${f.feature} needs Envoy >= ${f.minEnvoyVersion}; left out for Envoy ${envoyVersion} (${where})`);
    }
  }
}

/** Route configurations without the fields `envoyVersion` does not know, and a warning per omission. */
export function gateRoutes(routes: readonly TypedJson[], envoyVersion: string): { routes: TypedJson[]; warnings: string[] } {
  const warnings = new Set<string>();
  const out = routes.map((rc) => {
    const copy = structuredClone(rc) as TypedJson & {
      request_mirror_policies?: unknown;
      virtual_hosts?: Array<{ name?: string; request_mirror_policies?: unknown; routes?: Array<{ name?: string; route?: { request_mirror_policies?: unknown } }> }>;
    };
    strip(copy.request_mirror_policies, envoyVersion, String(copy.name), warnings);
    for (const vh of copy.virtual_hosts ?? []) {
      strip(vh.request_mirror_policies, envoyVersion, `${String(copy.name)}/${vh.name}`, warnings);
      for (const r of vh.routes ?? []) strip(r.route?.request_mirror_policies, envoyVersion, `${String(copy.name)}/${vh.name}/${r.name}`, warnings);
    }
    return copy;
  });
  return { routes: out, warnings: [...warnings] };
}
