// A route's `metadata` → the compare spec of each mirror policy in effect on it. Envoy has no
// response comparison; shadowplane writes it under filter_metadata[MIRROR_COMPARE_METADATA], keyed
// by the policy's runtime_key (src/translate/mirror-compare.ts), and Envoy ignores it.
import { MIRROR_COMPARE_METADATA } from '../../envoy-api/metadata.js';
import type { CompareSpec, MirrorPolicySpec } from '../data-plane-config.js';
import { parseJsonPath, type JsonPath } from '../../json-path/json-path.js';
import type { JsonFields } from './resource-reader.js';

interface CompareEntry {
  readonly spec: CompareSpec;
  /** Where the entry is, to report a runtime key no policy has. */
  readonly fields: JsonFields;
}

export type CompareSpecs = ReadonlyMap<string, CompareEntry>;

function compareSpec(f: JsonFields): CompareSpec | undefined {
  const headers = f.strings('headers').map((h) => h.toLowerCase());
  const paths = f.strings('ignore_json_paths').map((text, i): JsonPath | undefined => {
    const parsed = parseJsonPath(text);
    if (parsed.ok) return parsed.path;
    f.problem(parsed.message, `ignore_json_paths[${i}]`);
    return undefined;
  });
  const maxBodyBytes = f.uint('max_body_bytes');
  if (maxBodyBytes === undefined && !f.has('max_body_bytes')) f.problem('is required', 'max_body_bytes');
  f.finish();
  if (maxBodyBytes === undefined || paths.some((p) => p === undefined)) return undefined;
  return { headers, ignoreJsonPaths: paths as JsonPath[], maxBodyBytes };
}

/** The specs by runtime key; null after recording a problem. */
export function parseMirrorCompare(metadata: JsonFields): CompareSpecs | null {
  const out = new Map<string, CompareEntry>();
  let ok = true;
  const namespaces = metadata.object('filter_metadata');
  // Other namespaces are for filters this data path does not run; like Envoy, it keeps and ignores them.
  const ours = namespaces?.entries().find((e) => e.key === MIRROR_COMPARE_METADATA)?.fields;
  for (const { key, fields } of ours?.entries() ?? []) {
    const spec = compareSpec(fields);
    if (spec) out.set(key, { spec, fields });
    else ok = false;
  }
  namespaces?.finish();
  metadata.finish();
  return ok ? out : null;
}

/** `policies` with their compare specs; undefined after recording a spec whose runtime key no policy has. */
export function withCompareSpecs(policies: readonly MirrorPolicySpec[], specs: CompareSpecs): readonly MirrorPolicySpec[] | undefined {
  let ok = true;
  for (const [key, { fields }] of specs) {
    if (!policies.some((p) => p.runtimeKey === key)) {
      fields.problem(`no mirror policy in effect on this route has runtime_key "${key}"`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return policies.map((p) => {
    const entry = specs.get(p.runtimeKey);
    return entry ? { ...p, compare: entry.spec } : p;
  });
}
