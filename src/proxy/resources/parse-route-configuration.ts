// RouteConfiguration (proto3 JSON) → RouteConfigSpec: virtual hosts indexed by domain, routes with
// compiled matchers, and each route's effective mirror policies.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route.proto
import { DEFAULT_ROUTE_TIMEOUT_MS, DENOMINATOR_TYPES, DENOMINATOR_VALUE, type DenominatorValue } from '../../envoy-api/envoy-defaults.js';
import type {
  AppendAction,
  HeaderMutationSpec,
  MirrorPolicySpec,
  PathRewrite,
  PrimaryTarget,
  RouteConfigSpec,
  RouteSpec,
  VirtualHostSpec,
} from '../data-plane-config.js';
import { parseMirrorCompare, withCompareSpecs } from './parse-mirror-compare.js';
import type { JsonFields } from './resource-reader.js';
import { compileRegexRewrite, compileSafeRegex, type SafeRegex } from '../../safe-regex/safe-regex.js';
import { RouteMatcher, type HeaderRule, type PathRule, type QueryRule, type ValueRule } from '../route-table.js';
import { VirtualHostIndex } from '../virtual-host-match.js';

const APPEND_ACTIONS: readonly AppendAction[] = ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'];

function regexField(f: JsonFields): SafeRegex | undefined {
  const pattern = f.string('regex', true);
  f.accept('google_re2'); // deprecated engine selector: RE2 is the only engine
  f.finish();
  if (pattern === undefined) return undefined;
  const compiled = compileSafeRegex(pattern);
  if (compiled.ok) return compiled.regex;
  f.problem(`invalid regex: ${compiled.message}`, 'regex');
  return undefined;
}

function exactlyOne(f: JsonFields, keys: readonly string[]): string | undefined {
  const present = keys.filter((k) => f.has(k));
  f.accept(...keys); // reported here, not again as unsupported
  if (present.length !== 1) {
    f.problem(`needs exactly one of ${keys.join(', ')}${present.length > 1 ? `, got ${present.join(' and ')}` : ''}`);
    return undefined;
  }
  return present[0];
}

function valueRule(sm: JsonFields): ValueRule | undefined {
  const which = exactlyOne(sm, ['exact', 'prefix', 'safe_regex']);
  let rule: ValueRule | undefined;
  if (which === 'exact' || which === 'prefix') {
    const value = sm.string(which);
    if (value !== undefined) rule = { kind: which, value };
  } else if (which === 'safe_regex') {
    const re = sm.object('safe_regex');
    const regex = re && regexField(re);
    if (regex) rule = { kind: 'regex', regex };
  }
  sm.finish();
  return rule;
}

function headerRule(h: JsonFields): HeaderRule | undefined {
  const name = h.name('name')?.toLowerCase();
  if (name?.startsWith(':') && name !== ':method') h.problem(`pseudo-header "${name}" is not supported (only :method)`, 'name');
  const invert = h.boolean('invert_match') ?? false;
  const which = exactlyOne(h, ['present_match', 'string_match']);
  let rule: HeaderRule | undefined;
  if (which === 'present_match') {
    const present = h.boolean('present_match');
    if (name !== undefined && present !== undefined) rule = { name, kind: 'present', present, invert };
  } else if (which === 'string_match') {
    const sm = h.object('string_match');
    const v = sm && valueRule(sm);
    if (name !== undefined && v) rule = { name, kind: 'value', rule: v, invert };
  }
  h.finish();
  return rule;
}

function queryRule(q: JsonFields): QueryRule | undefined {
  const name = q.name('name');
  const which = exactlyOne(q, ['present_match', 'string_match']);
  let rule: QueryRule | undefined;
  if (which === 'present_match') {
    const present = q.boolean('present_match');
    if (name !== undefined && present !== undefined) rule = { name, kind: 'present', present };
  } else if (which === 'string_match') {
    const sm = q.object('string_match');
    const v = sm && valueRule(sm);
    if (name !== undefined && v) rule = { name, kind: 'value', rule: v };
  }
  q.finish();
  return rule;
}

function routeMatcher(m: JsonFields): RouteMatcher | undefined {
  const caseSensitive = m.boolean('case_sensitive') ?? true;
  const which = exactlyOne(m, ['prefix', 'path_separated_prefix', 'path', 'safe_regex']);
  let pathRule: PathRule | undefined;
  if (which === 'prefix' || which === 'path' || which === 'path_separated_prefix') {
    const value = m.string(which);
    // Envoy's own check of the field: no query or fragment, no trailing "/".
    if (which === 'path_separated_prefix' && value !== undefined && !/^[^?#]+[^?#/]$/.test(value)) m.problem('must hold no "?" or "#" and not end with "/"', which);
    else if (value !== undefined) pathRule = { kind: which, value, caseSensitive };
  } else if (which === 'safe_regex') {
    const re = m.object('safe_regex');
    const regex = re && regexField(re);
    if (regex) pathRule = { kind: 'regex', regex };
  }
  const headers = m.objects('headers').map(headerRule);
  const query = m.objects('query_parameters').map(queryRule);
  m.finish();
  if (!pathRule || headers.some((h) => h === undefined) || query.some((q) => q === undefined)) return undefined;
  return new RouteMatcher(pathRule, headers as HeaderRule[], query as QueryRule[]);
}

/** A HeaderValueOption: what request_headers_to_add and a mirror's header mutations append or set. */
function headerValueOption(a: JsonFields): Extract<HeaderMutationSpec, { kind: 'append' }> | undefined {
  const header = a.object('header', true);
  const name = header?.name('key')?.toLowerCase();
  const value = header?.string('value') ?? '';
  header?.finish();
  const action = a.enumeration('append_action', APPEND_ACTIONS) ?? 'APPEND_IF_EXISTS_OR_ADD';
  a.finish();
  return name === undefined ? undefined : { kind: 'append', name, value, action };
}

/** Envoy's own NACK: HeaderMutations and HeaderParser refuse pseudo-headers and Host. */
function modifiable(f: JsonFields, m: HeaderMutationSpec | undefined): HeaderMutationSpec | undefined {
  if (m === undefined || (!m.name.startsWith(':') && m.name !== 'host')) return m;
  f.problem(':-prefixed or host headers may not be modified');
  return undefined;
}

/** request_headers_to_remove, then request_headers_to_add: the order Envoy's HeaderParser applies them. */
function routeHeaderMutations(r: JsonFields): HeaderMutationSpec[] | undefined {
  const removes = r.strings('request_headers_to_remove').map((name, i): HeaderMutationSpec | undefined => {
    const lower = name.toLowerCase();
    if (!lower.startsWith(':') && lower !== 'host') return { kind: 'remove', name: lower };
    r.problem(':-prefixed or host headers may not be modified', `request_headers_to_remove[${i}]`);
    return undefined;
  });
  const adds = r.objects('request_headers_to_add').map((a) => modifiable(a, headerValueOption(a)));
  const all = [...removes, ...adds];
  return all.some((m) => m === undefined) ? undefined : (all as HeaderMutationSpec[]);
}

function pathRewrite(action: JsonFields): PathRewrite | undefined | null {
  const prefix = action.string('prefix_rewrite') || undefined;
  const regex = action.object('regex_rewrite');
  if (prefix !== undefined && regex) {
    action.problem('only one of prefix_rewrite and regex_rewrite may be set');
    return null;
  }
  if (prefix !== undefined) return { kind: 'prefix', value: prefix };
  if (!regex) return undefined;
  const pattern = regex.object('pattern', true);
  const source = pattern?.string('regex', true);
  pattern?.accept('google_re2');
  pattern?.finish();
  const substitution = regex.string('substitution') ?? '';
  regex.finish();
  if (source === undefined) return null;
  const compiled = compileRegexRewrite(source, substitution);
  if (compiled.ok) return { kind: 'regex', rewrite: compiled.rewrite };
  regex.problem(`invalid regex_rewrite: ${compiled.message}`);
  return null;
}

function headerMutation(hm: JsonFields): HeaderMutationSpec | undefined {
  const which = exactlyOne(hm, ['remove', 'append']);
  let out: HeaderMutationSpec | undefined;
  if (which === 'remove') {
    const name = hm.string('remove')?.toLowerCase();
    if (name !== undefined) out = { kind: 'remove', name };
  } else if (which === 'append') {
    const a = hm.object('append');
    out = a && headerValueOption(a);
  }
  hm.finish();
  return modifiable(hm, out);
}

function mirrorPolicy(p: JsonFields): MirrorPolicySpec | undefined {
  const which = exactlyOne(p, ['cluster', 'cluster_header']);
  const name = which === undefined ? undefined : p.name(which);
  let numerator = 100;
  let denominator: DenominatorValue = 100;
  let runtimeKey = '';
  const rf = p.object('runtime_fraction');
  if (rf) {
    const dv = rf.object('default_value');
    // proto3 defaults: numerator 0, denominator HUNDRED.
    numerator = dv?.uint('numerator') ?? 0;
    denominator = DENOMINATOR_VALUE[dv?.enumeration('denominator', DENOMINATOR_TYPES) ?? 'HUNDRED'];
    dv?.finish();
    runtimeKey = rf.string('runtime_key') ?? '';
    rf.finish();
  }
  p.accept('trace_sampled'); // tracing only; this data path does not trace
  const hostSuffix = !(p.boolean('disable_shadow_host_suffix_append') ?? false);
  const hostRewrite = p.string('host_rewrite_literal') || undefined;
  const mutations = p.objects('request_headers_mutations').map(headerMutation);
  p.finish();
  if (which === undefined || name === undefined || mutations.some((m) => m === undefined)) return undefined;
  return {
    target: which === 'cluster' ? { kind: 'cluster', cluster: name } : { kind: 'header', header: name.toLowerCase() },
    fraction: { numerator, denominator },
    runtimeKey,
    hostSuffix,
    hostRewrite,
    headerMutations: mutations as HeaderMutationSpec[],
    label: which === 'cluster' ? name : `header:${name.toLowerCase()}`,
    compare: undefined, // from the route's metadata, once the effective list is known
  };
}

function mirrorPolicies(f: JsonFields): MirrorPolicySpec[] | undefined {
  const list = f.objects('request_mirror_policies').map(mirrorPolicy);
  return list.some((p) => p === undefined) ? undefined : (list as MirrorPolicySpec[]);
}

function primaryTarget(action: JsonFields): PrimaryTarget | undefined {
  const which = exactlyOne(action, ['cluster', 'weighted_clusters']);
  if (which === 'cluster') {
    const cluster = action.name('cluster');
    return cluster === undefined ? undefined : { kind: 'cluster', cluster };
  }
  if (which !== 'weighted_clusters') return undefined;
  const wc = action.object('weighted_clusters');
  if (!wc) return undefined;
  const clusters = wc.objects('clusters').map((c) => {
    const name = c.name('name');
    const weight = c.uint('weight') ?? 0;
    c.finish();
    return name === undefined ? undefined : { name, weight };
  });
  wc.finish();
  if (clusters.some((c) => c === undefined)) return undefined;
  const list = clusters as Array<{ name: string; weight: number }>;
  const totalWeight = list.reduce((s, c) => s + c.weight, 0);
  if (totalWeight <= 0) {
    wc.problem('sum of weights in the weighted_cluster must be greater than 0');
    return undefined;
  }
  return { kind: 'weighted', clusters: list, totalWeight };
}

interface Inherited {
  readonly routeConfig: string;
  readonly virtualHost: string;
  readonly mirrors: readonly MirrorPolicySpec[];
}

function route(r: JsonFields, inherited: Inherited): RouteSpec | undefined {
  const name = r.string('name') ?? '';
  const m = r.object('match', true);
  const matcher = m && routeMatcher(m);
  const action = r.object('route', true);
  const metadata = r.object('metadata');
  const compare = metadata && parseMirrorCompare(metadata);
  const requestHeaderMutations = routeHeaderMutations(r);
  let spec: RouteSpec | undefined;
  if (action) {
    const target = primaryTarget(action);
    const timeoutMs = action.durationMs('timeout') ?? DEFAULT_ROUTE_TIMEOUT_MS;
    const rewrite = pathRewrite(action);
    const hostRewrite = action.string('host_rewrite_literal') || undefined;
    const own = mirrorPolicies(action);
    action.finish();
    const effective = own && (own.length > 0 ? own : inherited.mirrors);
    const policies = effective && (compare ? withCompareSpecs(effective, compare) : effective);
    if (matcher && target && policies && compare !== null && rewrite !== null && requestHeaderMutations) {
      spec = {
        matcher,
        target,
        timeoutMs,
        requestHeaderMutations,
        pathRewrite: rewrite,
        hostRewrite,
        mirrorPolicies: policies,
        labels: { route_config: inherited.routeConfig, virtual_host: inherited.virtualHost, route: name },
      };
    }
  }
  r.finish();
  return spec;
}

export function parseRouteConfiguration(rc: JsonFields): RouteConfigSpec | undefined {
  const name = rc.name('name') ?? '';
  const rcMirrors = mirrorPolicies(rc);
  const index = new VirtualHostIndex<VirtualHostSpec>();
  const seenDomains = new Set<string>();
  let ok = rcMirrors !== undefined;
  for (const vh of rc.objects('virtual_hosts')) {
    const vhName = vh.name('name') ?? '';
    const domains = vh.strings('domains').map((d) => d.toLowerCase());
    if (domains.length === 0) vh.problem('needs at least one domain', 'domains');
    domains.forEach((d, i) => {
      if (d === '') vh.problem('must not be empty', `domains[${i}]`);
      else if (seenDomains.has(d)) vh.problem(`only unique values for domains are permitted; "${d}" is duplicated in route configuration "${name}"`, `domains[${i}]`);
      seenDomains.add(d);
    });
    const vhMirrors = mirrorPolicies(vh);
    const inherited = { routeConfig: name, virtualHost: vhName, mirrors: vhMirrors?.length ? vhMirrors : (rcMirrors ?? []) };
    const routes = vh.objects('routes').map((r) => route(r, inherited));
    vh.finish();
    if (vhMirrors === undefined || routes.some((r) => r === undefined)) ok = false;
    else index.add(domains, { name: vhName, routes: routes as RouteSpec[] });
  }
  rc.finish();
  return ok ? { name, virtualHosts: index } : undefined;
}
