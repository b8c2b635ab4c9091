// Route matching as Envoy does it: routes are tried in order and the first whose path rule and every
// header rule match wins.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routematch
import type { SafeRegex } from '../safe-regex/safe-regex.js';
import type { HeaderList } from './header-list.js';

export interface RequestView {
  readonly method: string;
  /** `:path` as received, query included. */
  readonly path: string;
  readonly headers: HeaderList;
}

export type PathRule =
  | { readonly kind: 'prefix'; readonly value: string; readonly caseSensitive: boolean }
  /** The prefix, then the end of the path (query excluded) or a "/". */
  | { readonly kind: 'path_separated_prefix'; readonly value: string; readonly caseSensitive: boolean }
  | { readonly kind: 'path'; readonly value: string; readonly caseSensitive: boolean }
  /** safe_regex matches the whole path (query excluded); case_sensitive does not apply. */
  | { readonly kind: 'regex'; readonly regex: SafeRegex };

export type ValueRule =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: SafeRegex };

/** A query parameter condition; only the parameter's first value counts, as in Envoy. */
export type QueryRule =
  | { readonly name: string; readonly kind: 'present'; readonly present: boolean }
  | { readonly name: string; readonly kind: 'value'; readonly rule: ValueRule };

export type HeaderRule =
  | { readonly name: string; readonly kind: 'present'; readonly present: boolean; readonly invert: boolean }
  | { readonly name: string; readonly kind: 'value'; readonly rule: ValueRule; readonly invert: boolean };

function pathWithoutQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function headerValues(req: RequestView, name: string): string[] {
  return name === ':method' ? [req.method] : req.headers.values(name);
}

function valueMatches(rule: ValueRule, value: string): boolean {
  switch (rule.kind) {
    case 'exact':
      return value === rule.value;
    case 'prefix':
      return value.startsWith(rule.value);
    case 'regex':
      return rule.regex.test(value);
  }
}

/**
 * The first value of query parameter `name`, as Envoy's QueryParamsMulti::parseQueryString reads the
 * query: `&`-separated, split at the first `=`, not percent-decoded; `name` alone has the value "".
 */
function firstQueryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const param of path.slice(q + 1).split('&')) {
    if (param === '') continue;
    const eq = param.indexOf('=');
    if ((eq < 0 ? param : param.slice(0, eq)) === name) return eq < 0 ? '' : param.slice(eq + 1);
  }
  return undefined;
}

function queryMatches(rule: QueryRule, path: string): boolean {
  const value = firstQueryValue(path, rule.name);
  if (rule.kind === 'present') return (value !== undefined) === rule.present;
  return value !== undefined && valueMatches(rule.rule, value);
}

function sameText(a: string, b: string, caseSensitive: boolean): boolean {
  return caseSensitive ? a === b : a.toLowerCase() === b.toLowerCase();
}

/**
 * A header that is absent never matches a value rule, inverted or not. A repeated header matches
 * when any one of its values does (Envoy 1.40 does not join them: test/conformance.test.ts).
 */
function headerMatches(rule: HeaderRule, req: RequestView): boolean {
  const values = headerValues(req, rule.name);
  if (rule.kind === 'present') return (values.length > 0) === rule.present !== rule.invert;
  if (values.length === 0) return false;
  return values.some((v) => valueMatches(rule.rule, v)) !== rule.invert;
}

/** How much of `:path` the path rule matched (what prefix_rewrite replaces), or -1 for no match. */
function matchedPathLength(rule: PathRule, path: string): number {
  if (rule.kind === 'prefix') {
    const head = path.slice(0, rule.value.length);
    const ok = rule.caseSensitive ? head === rule.value : head.toLowerCase() === rule.value.toLowerCase();
    return ok ? rule.value.length : -1;
  }
  const bare = pathWithoutQuery(path);
  if (rule.kind === 'path_separated_prefix') {
    const n = rule.value.length;
    const ok = bare.length >= n && sameText(bare.slice(0, n), rule.value, rule.caseSensitive) && (bare.length === n || bare[n] === '/');
    return ok ? n : -1;
  }
  if (rule.kind === 'path') {
    const ok = rule.caseSensitive ? bare === rule.value : bare.toLowerCase() === rule.value.toLowerCase();
    return ok ? bare.length : -1;
  }
  return rule.regex.test(bare) ? bare.length : -1;
}

export class RouteMatcher {
  constructor(
    private readonly pathRule: PathRule,
    private readonly headerRules: readonly HeaderRule[],
    private readonly queryRules: readonly QueryRule[] = [],
  ) {}

  /** The length of the matched part of `:path`, or -1 when the route does not match. */
  match(req: RequestView): number {
    const matched = matchedPathLength(this.pathRule, req.path);
    if (matched < 0) return -1;
    if (!this.headerRules.every((h) => headerMatches(h, req))) return -1;
    return this.queryRules.every((q) => queryMatches(q, req.path)) ? matched : -1;
  }
}

/** The first route that matches, with the matched path length. */
export function firstMatchingRoute<R extends { readonly matcher: RouteMatcher }>(
  routes: readonly R[],
  req: RequestView,
): { readonly route: R; readonly matchedLength: number } | undefined {
  for (const route of routes) {
    const matchedLength = route.matcher.match(req);
    if (matchedLength >= 0) return { route, matchedLength };
  }
  return undefined;
}
