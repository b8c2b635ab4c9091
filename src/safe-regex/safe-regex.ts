// Envoy's `safe_regex` is Google RE2, matched against the whole value. JavaScript's RegExp accepts
// more (lookarounds, backreferences) and backtracks, so a pattern it takes may be one Envoy NACKs
// ("invalid perl operator"). Config validation and the built-in data path both use this one engine
// (re2js, a pure-JavaScript port of RE2 with Go regexp's syntax), so a config behaves the same on
// both paths or is rejected up front.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/regex.proto
import { RE2JS } from 're2js';

export interface SafeRegex {
  readonly pattern: string;
  /** True when the pattern matches all of `value` (Envoy's full-match semantics). */
  test(value: string): boolean;
}

/**
 * Envoy rejects a regex whose RE2 program is larger than this (runtime key
 * `re2.max_program_size.error_level`, default 100). re2js's count is close to, and in what we
 * measured never above, Envoy's (`.` and non-ASCII classes cost Envoy more), so a pattern over it
 * here is one Envoy would reject too.
 */
export const ENVOY_MAX_PROGRAM_SIZE = 100;

export type SafeRegexResult = { readonly ok: true; readonly regex: SafeRegex } | { readonly ok: false; readonly message: string };

/** Compiles `pattern` with RE2 syntax; the message says what RE2 rejects. */
export function compileSafeRegex(pattern: string): SafeRegexResult {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (e) {
    // re2js prefixes its own "error parsing regexp: "; callers add theirs.
    return { ok: false, message: (e as Error).message.replace(/^error parsing regexp: /, '') };
  }
  const size = compiled.programSize();
  if (size > ENVOY_MAX_PROGRAM_SIZE) {
    return { ok: false, message: `RE2 program size of ${size} > max program size of ${ENVOY_MAX_PROGRAM_SIZE} (Envoy's re2.max_program_size.error_level)` };
  }
  return { ok: true, regex: { pattern, test: (value) => compiled.matches(value) } };
}
