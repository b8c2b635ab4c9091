// Response comparison has no Envoy field, so each route carries the compare specs of the mirror
// policies in effect on it in `metadata.filter_metadata`, which Envoy accepts and ignores; the
// built-in data path reads them back (src/proxy/resources/parse-mirror-compare.ts). Keyed by runtime_key,
// unique across the file, so a spec finds its policy whichever level the policy is declared at.
import { MIRROR_COMPARE_METADATA, type MirrorCompareMetadata } from '../envoy-api/metadata.js';
import type { JsonObject } from '../envoy-api/proto-json.js';
import type { MirrorPolicy } from '../model/types.js';

/** The route's `metadata`, or undefined when none of `policies` compares responses. */
export function mirrorCompareMetadata(policies: readonly MirrorPolicy[]): JsonObject | undefined {
  const entries = policies
    .flatMap((m) => {
      if (!m.compare) return [];
      const spec: MirrorCompareMetadata = {
        headers: [...m.compare.headers],
        ignore_json_paths: [...m.compare.ignoreJsonPaths],
        max_body_bytes: m.compare.maxBodyBytes,
      };
      return [[m.runtimeKey, spec] as const];
    })
    // Sorted so the resource (and its content-hashed version) never depends on list order.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return undefined;
  return { filter_metadata: { [MIRROR_COMPARE_METADATA]: Object.fromEntries(entries) } };
}
