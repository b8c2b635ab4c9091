// The JSONPath subset `compare.ignore_json_paths` takes: `$` followed by `.name`, `[N]` or `[*]`
// steps ($.id, $.items[0].etag, $.items[*].updated_at). It names the fields that legitimately differ
// between two versions of a service (ids, timestamps, trace headers); filters and recursive descent
// would make a typo silently ignore more than meant. `[*]` matches any array element or object member.

export type JsonPathStep =
  | { readonly kind: 'member'; readonly name: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'any' };

export interface JsonPath {
  readonly text: string;
  readonly steps: readonly JsonPathStep[];
}

export type JsonPathResult = { readonly ok: true; readonly path: JsonPath } | { readonly ok: false; readonly message: string };

/** A concrete place in a parsed JSON value: member names and array indexes from the root. */
export type JsonLocation = ReadonlyArray<string | number>;

const STEP_RE = /\.([^.[\]]+)|\[(\d+)\]|\[(\*)\]/y;

export function parseJsonPath(text: string): JsonPathResult {
  const fail = (why: string): JsonPathResult => ({ ok: false, message: `"${text}" is not a supported JSONPath: ${why}` });
  if (!text.startsWith('$')) return fail('it must start with "$"');
  const steps: JsonPathStep[] = [];
  let at = 1;
  while (at < text.length) {
    STEP_RE.lastIndex = at;
    const m = STEP_RE.exec(text);
    if (!m) return fail(`unexpected "${text.slice(at)}" at offset ${at} (expected .name, [N] or [*])`);
    if (m[1] !== undefined) steps.push({ kind: 'member', name: m[1] });
    else if (m[2] !== undefined) steps.push({ kind: 'index', index: Number(m[2]) });
    else steps.push({ kind: 'any' });
    at = STEP_RE.lastIndex;
  }
  if (steps.length === 0) return fail('it must name a field below "$"');
  return { ok: true, path: { text, steps } };
}

/** True when `path` names exactly `location`. */
export function pathMatches(path: JsonPath, location: JsonLocation): boolean {
  if (path.steps.length !== location.length) return false;
  return path.steps.every((step, i) => {
    const part = location[i];
    if (step.kind === 'any') return true;
    return step.kind === 'member' ? part === step.name : part === step.index;
  });
}

/** `$.items[0].etag`; a member name that `.name` cannot carry is written `["a.b"]`. */
export function formatLocation(location: JsonLocation): string {
  let out = '$';
  for (const part of location) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += /^[^.[\]\s"]+$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
  }
  return out;
}
