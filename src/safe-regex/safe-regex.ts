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

/** Envoy's RegexMatchAndSubstitute: every match of the pattern replaced by the substitution. */
export interface SafeRewrite {
  replaceAll(input: string): string;
}

export type SafeRewriteResult = { readonly ok: true; readonly rewrite: SafeRewrite } | { readonly ok: false; readonly message: string };

type RewritePart = string | number;

/**
 * RE2's rewrite string (RE2::GlobalReplace, as Envoy's regex_rewrite uses it): `\0`–`\9` is a
 * capture group, `\\` a backslash, any other backslash an error; a group the pattern does not have
 * is an error too (Envoy rejects both when it loads the route).
 */
function parseRewrite(substitution: string, groups: number): RewritePart[] | string {
  const parts: RewritePart[] = [];
  let literal = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c !== '\\') {
      literal += c;
      continue;
    }
    const next = substitution[++i];
    if (next === '\\') literal += '\\';
    else if (next !== undefined && next >= '0' && next <= '9') {
      const n = Number(next);
      if (n > groups) return `the substitution refers to \\${n}, but the pattern has ${groups} capture group${groups === 1 ? '' : 's'}`;
      if (literal) parts.push(literal);
      literal = '';
      parts.push(n);
    } else return `invalid rewrite pattern: "\\${next ?? ''}" (use \\\\ for a backslash, \\0–\\9 for a group)`;
  }
  if (literal) parts.push(literal);
  return parts;
}

export function compileRegexRewrite(pattern: string, substitution: string): SafeRewriteResult {
  const compiled = compileSafeRegex(pattern);
  if (!compiled.ok) return compiled;
  const re = RE2JS.compile(pattern);
  const parts = parseRewrite(substitution, re.groupCount());
  if (typeof parts === 'string') return { ok: false, message: parts };
  return {
    ok: true,
    rewrite: {
      // String.prototype.replace's replacer arguments: the match, then each group.
      replaceAll: (input) =>
        re.matcher(input).replaceAll((...args: unknown[]) => parts.map((p) => (typeof p === 'number' ? String(args[p] ?? '') : p)).join('')),
    },
  };
}
