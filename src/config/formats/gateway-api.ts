// Gateway API (gateway.networking.k8s.io v1 and v1beta1): Gateways' HTTP listeners, HTTPRoutes with
// their matches, weighted backendRefs and the RequestMirror, RequestHeaderModifier and URLRewrite
// filters, ReferenceGrants, and Envoy Gateway's standalone Backend. Semantics are the spec's where
// it differs from Envoy's defaults (README: "Gateway API"); every problem names the condition and
// reason Gateway API would set.
// https://gateway-api.sigs.k8s.io/reference/spec/#httproute
import { ProblemCode } from '../problems.js';
import type { HeaderMatchConfig, MirrorConfig, QueryParameterMatchConfig, RouteConfig } from '../schema.js';
import { listenerAddress, type ImportContext } from './context.js';
import { child, type Dialect, type Fields } from './fields.js';
import { hostPort, reportAppProtocolConflicts, type KubeObject, type ServiceLookup } from './kubernetes.js';
import type { SourceRef } from './source.js';
import { compareStrings, formatDuration, parseDurationMs, percentOf } from './values.js';
import { assembleVirtualHosts, covers } from './virtual-hosts.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSIONS = ['v1', 'v1beta1'];
/** Envoy Gateway's own API group, for its standalone Backend resource. */
export const ENVOY_GATEWAY_GROUP = 'gateway.envoyproxy.io';

export const GATEWAY_API: Dialect = { importer: "shadowplane's Gateway API import", unsupportedReason: ' (Accepted=False, reason UnsupportedValue)' };

interface GatewayListener {
  readonly gateway: string;
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  readonly hostname: string | undefined;
  readonly allow: 'Same' | 'All';
  readonly at: SourceRef;
  /** Not among the documents: implied by a route's parentRef (impliedGateway). */
  readonly implied: boolean;
}

/** Envoy Gateway's quickstart Gateway, which seed 002's routes name without printing it: one HTTP listener on port 80. */
const IMPLIED_LISTENER = { name: 'http', port: 80 } as const;

interface Grant {
  readonly namespace: string;
  readonly from: ReadonlyArray<{ group: string; kind: string; namespace: string }>;
  readonly to: ReadonlyArray<{ group: string; kind: string; name: string | undefined }>;
}

interface EgBackend {
  readonly endpoints: readonly string[];
  readonly dns: boolean;
}

/** One Envoy route from one match of one rule, with what Gateway API's precedence compares. */
interface RouteEntry {
  readonly route: RouteConfig;
  readonly pathRank: number;
  readonly pathLength: number;
  readonly method: boolean;
  readonly headers: number;
  readonly queryParams: number;
  readonly created: number;
  readonly id: string;
  readonly rule: number;
  readonly match: number;
}

/** Gateway API's match precedence: Exact, then RegularExpression (Envoy Gateway's choice), then the longest PathPrefix; … */
function byPrecedence(a: RouteEntry, b: RouteEntry): number {
  return (
    a.pathRank - b.pathRank ||
    b.pathLength - a.pathLength ||
    Number(b.method) - Number(a.method) ||
    b.headers - a.headers ||
    b.queryParams - a.queryParams ||
    a.created - b.created ||
    compareStrings(a.id, b.id) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}

/** Gateway API's Hostname: a DNS name, its first label possibly "*". */
const HOSTNAME_RE = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

/** Hostnames a route serves on a listener, or undefined when they share none. */
function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | undefined {
  if (route.length === 0) return [listener ?? '*'];
  if (listener === undefined) return [...route];
  const out = new Set<string>();
  for (const r of route) {
    if (r === listener || covers(listener, r)) out.add(r);
    else if (covers(r, listener)) out.add(listener);
  }
  return out.size > 0 ? [...out] : undefined;
}

/** RE2-escapes a literal for a regex_rewrite pattern. */
function quoteRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** A regex_rewrite substitution is a literal except for `\N` groups: escape backslashes. */
function literalSubstitution(text: string): string {
  return text.replace(/\\/g, '\\\\');
}

export class GatewayApiImport {
  private readonly gateways = new Map<string, GatewayListener[]>();
  /** Set by build() when the documents hold no Gateway at all: each Gateway a route names is implied. */
  private implyGateways = false;
  private readonly grants: Grant[] = [];
  private readonly backends = new Map<string, EgBackend>();
  private readonly routes: KubeObject[] = [];
  private readonly seen = new Set<string>();
  /** appProtocol fields already reported on (a Service port may back many routes). */
  private readonly reported = new Set<object>();

  constructor(private readonly ctx: ImportContext) {}

  /** Every kind this importer reads; false for a kind it does not know. */
  read(o: KubeObject): boolean {
    const key = `${o.group}/${o.kind}`;
    const handler: Record<string, ((o: KubeObject) => void) | undefined> = {
      [`${GATEWAY_API_GROUP}/Gateway`]: (x) => this.readGateway(x),
      [`${GATEWAY_API_GROUP}/HTTPRoute`]: (x) => this.routes.push(x),
      [`${GATEWAY_API_GROUP}/ReferenceGrant`]: (x) => this.readGrant(x),
      [`${GATEWAY_API_GROUP}/GatewayClass`]: (x) => this.readGatewayClass(x),
      [`${ENVOY_GATEWAY_GROUP}/Backend`]: (x) => this.readBackend(x),
    };
    const h = handler[key];
    if (!h) return false;
    if (o.group === GATEWAY_API_GROUP && !GATEWAY_API_VERSIONS.includes(o.version)) {
      o.fields.unsupported('apiVersion', `${o.apiVersion}: shadowplane reads ${GATEWAY_API_VERSIONS.map((v) => `${GATEWAY_API_GROUP}/${v}`).join(' and ')}`);
      return true;
    }
    if (o.group === ENVOY_GATEWAY_GROUP && o.version !== 'v1alpha1') {
      o.fields.unsupported('apiVersion', `${o.apiVersion}: shadowplane reads ${ENVOY_GATEWAY_GROUP}/v1alpha1`);
      return true;
    }
    if (this.seen.has(`${key}/${o.namespace}/${o.name}`)) {
      this.ctx.problems.add(o.fields.at, ProblemCode.IMPORT_DUPLICATE, `${o.kind} ${o.namespace}/${o.name} is defined twice`);
      return true;
    }
    this.seen.add(`${key}/${o.namespace}/${o.name}`);
    h(o);
    return true;
  }

  private readGatewayClass(o: KubeObject): void {
    // Which controller runs a Gateway: here shadowplane does, whatever the class names.
    o.fields.ignore('spec');
    o.fields.finish();
  }

  private readGateway(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    spec.ignore('gatewayClassName');
    spec.ignoreWithWarning('addresses', 'imported listeners bind the --listen-address host (0.0.0.0 by default)');
    spec.ignoreWithWarning('infrastructure', 'it configures the Kubernetes resources of a Gateway, which shadowplane does not create');
    const listeners = spec.objects('listeners', true).flatMap((l): GatewayListener[] => {
      const name = l.string('name', true);
      const port = l.integer('port', 1, 65535, true);
      const protocol = l.string('protocol', true);
      const hostname = l.string('hostname')?.toLowerCase();
      if (protocol !== undefined && protocol !== 'HTTP') l.unsupported('protocol', `listener protocol ${protocol}: shadowplane serves plain HTTP listeners`);
      let allow: 'Same' | 'All' = 'Same';
      const allowed = l.object('allowedRoutes');
      if (allowed) {
        const ns = allowed.object('namespaces');
        const from = ns?.string('from') ?? 'Same';
        if (from === 'Same' || from === 'All') allow = from;
        else ns?.unsupported('from', `allowedRoutes.namespaces.from ${from}: shadowplane supports Same and All`);
        ns?.finish();
        for (const k of allowed.objects('kinds')) {
          const group = k.string('group') ?? GATEWAY_API_GROUP;
          const kind = k.string('kind', true);
          k.finish();
          if (group !== GATEWAY_API_GROUP || kind !== 'HTTPRoute') k.unsupported(undefined, `allowedRoutes kind ${group}/${kind ?? '?'}: shadowplane imports HTTPRoutes`);
        }
        allowed.finish();
      }
      l.finish();
      if (name === undefined || port === undefined) return [];
      return [{ gateway: `${o.namespace}/${o.name}`, namespace: o.namespace, name, port, hostname, allow, at: l.at, implied: false }];
    });
    spec.finish();
    this.gateways.set(`${o.namespace}/${o.name}`, listeners);
  }

  private readGrant(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    const from = spec.objects('from', true).map((f) => {
      const v = { group: f.string('group', true) ?? '', kind: f.string('kind', true) ?? '', namespace: f.string('namespace', true) ?? '' };
      f.finish();
      return v;
    });
    const to = spec.objects('to', true).map((t) => {
      const v = { group: t.string('group', true) ?? '', kind: t.string('kind', true) ?? '', name: t.string('name') };
      t.finish();
      return v;
    });
    spec.finish();
    this.grants.push({ namespace: o.namespace, from, to });
  }

  private readBackend(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    let dns = false;
    const endpoints = spec.objects('endpoints', true).flatMap((e): string[] => {
      const ip = e.object('ip');
      const fqdn = e.object('fqdn');
      if (e.has('unix')) e.unsupported('unix', 'unix socket endpoints: shadowplane reaches backends over TCP');
      e.finish();
      if (ip) {
        const address = ip.string('address', true);
        const port = ip.integer('port', 1, 65535, true);
        ip.finish();
        return address !== undefined && port !== undefined ? [hostPort(address, port)] : [];
      }
      if (fqdn) {
        const host = fqdn.string('hostname', true);
        const port = fqdn.integer('port', 1, 65535, true);
        fqdn.finish();
        dns = true;
        return host !== undefined && port !== undefined ? [`${host}:${port}`] : [];
      }
      return [];
    });
    spec.finish();
    this.backends.set(`${o.namespace}/${o.name}`, { endpoints, dns });
  }

  private permitted(fromNamespace: string, toNamespace: string, group: string, kind: string, name: string): boolean {
    if (fromNamespace === toNamespace) return true;
    return this.grants.some(
      (g) =>
        g.namespace === toNamespace &&
        g.from.some((f) => f.group === GATEWAY_API_GROUP && f.kind === 'HTTPRoute' && f.namespace === fromNamespace) &&
        g.to.some((t) => t.group === group && t.kind === kind && (t.name === undefined || t.name === name)),
    );
  }

  /** The cluster a backendRef (a rule's, or a mirror's) sends to; undefined after reporting why not. */
  private backendCluster(ref: Fields, route: KubeObject): string | undefined {
    const group = ref.string('group') ?? '';
    const kind = ref.string('kind') ?? 'Service';
    const name = ref.string('name', true);
    const namespace = ref.string('namespace') ?? route.namespace;
    const port = ref.integer('port', 1, 65535);
    if (name === undefined) return undefined;
    const core = group === '' || group === 'core';
    const isService = core && kind === 'Service';
    const isBackend = group === ENVOY_GATEWAY_GROUP && kind === 'Backend';
    if (!isService && !isBackend) {
      this.ctx.problems.add(
        ref.at,
        ProblemCode.IMPORT_INVALID_KIND,
        `ResolvedRefs=False, reason InvalidKind: backendRef kind ${group === '' ? '' : `${group}/`}${kind} is not supported (Service, or ${ENVOY_GATEWAY_GROUP}/Backend)`,
      );
      return undefined;
    }
    if (!this.permitted(route.namespace, namespace, isService ? '' : group, kind, name)) {
      this.ctx.problems.add(
        ref.at,
        ProblemCode.IMPORT_REF_NOT_PERMITTED,
        `ResolvedRefs=False, reason RefNotPermitted: ${kind} ${namespace}/${name} is in another namespace and no ReferenceGrant in "${namespace}" allows HTTPRoutes from "${route.namespace}" to refer to it`,
      );
      return undefined;
    }
    if (isBackend) {
      const backend = this.backends.get(`${namespace}/${name}`);
      if (!backend || backend.endpoints.length === 0) {
        this.ctx.problems.add(ref.at, ProblemCode.IMPORT_BACKEND_NOT_FOUND, `ResolvedRefs=False, reason BackendNotFound: Backend ${namespace}/${name} ${backend ? 'has no endpoints' : 'not found'}`);
        return undefined;
      }
      return this.ctx.out.cluster(`backend.${namespace}.${name}`, ref.at, () => ({
        endpoints: [...backend.endpoints],
        ...(backend.dns ? { type: 'strict_dns' as const } : {}),
      }));
    }
    if (port === undefined) {
      ref.invalid(undefined, 'a backendRef to a Service needs its port');
      return undefined;
    }
    const found = this.ctx.services.lookup(namespace, name, port);
    if (!found.ok) {
      this.ctx.problems.add(ref.at, ProblemCode.IMPORT_BACKEND_NOT_FOUND, `ResolvedRefs=False, reason BackendNotFound: ${found.reason}`);
      return undefined;
    }
    const http2 = this.backendHttp2(found);
    return this.ctx.out.cluster(`${namespace}.${name}.${port}`, found.service.at, () => ({
      endpoints: found.endpoints.map((e) => hostPort(e.host, e.port)),
      ...(found.dns ? { type: 'strict_dns' as const } : {}),
      ...(http2 ? { http2: true } : {}),
    }));
  }

  /**
   * The backend protocol a Service port's appProtocol selects (GEP-1911, Gateway API's "Backend
   * Protocol"): `kubernetes.io/h2c` is HTTP/2 with prior knowledge; `http`, `kubernetes.io/http` or
   * none is HTTP/1.1. Any other value (`kubernetes.io/ws`, `kubernetes.io/wss`, `https`, …) is what
   * Gateway API reports as ResolvedRefs=False, reason UnsupportedProtocol.
   */
  private backendHttp2(found: Extract<ServiceLookup, { ok: true }>): boolean {
    reportAppProtocolConflicts(found, this.ctx.problems, this.reported);
    const ap = found.appProtocol;
    if (ap === undefined || ap.value === 'http' || ap.value === 'kubernetes.io/http') return false;
    if (ap.value === 'kubernetes.io/h2c') return true;
    if (!this.reported.has(ap)) {
      this.reported.add(ap);
      const why = ap.value === 'kubernetes.io/ws' || ap.value === 'kubernetes.io/wss' ? ' (shadowplane does not proxy WebSocket upgrades)' : '';
      this.ctx.problems.add(
        ap.at,
        ProblemCode.IMPORT_UNSUPPORTED,
        `ResolvedRefs=False, reason UnsupportedProtocol: appProtocol ${ap.value} of Service ${found.service.namespace}/${found.service.name} port ${found.port.port}${why}: shadowplane sends HTTP/1.1 (appProtocol http, kubernetes.io/http or none) or HTTP/2 with prior knowledge (kubernetes.io/h2c)`,
        true,
      );
    }
    return false;
  }

  private mirror(filter: Fields, m: Fields, route: KubeObject): MirrorConfig | undefined {
    const ref = m.object('backendRef', true);
    const cluster = ref && this.backendCluster(ref, route);
    ref?.finish();
    const percent = m.integer('percent', 0, 100);
    const fraction = m.object('fraction');
    let share: number | undefined = percent;
    if (percent !== undefined && fraction) m.invalid(undefined, 'only one of percent or fraction may be specified');
    if (fraction) {
      const numerator = fraction.integer('numerator', 0, 2 ** 31 - 1, true);
      const denominator = fraction.integer('denominator', 1, 2 ** 31 - 1) ?? 100;
      fraction.finish();
      if (numerator !== undefined && numerator > denominator) fraction.invalid('numerator', `numerator ${numerator} is greater than denominator ${denominator}`);
      else if (numerator !== undefined) {
        const p = percentOf(numerator, denominator);
        share = p.percent;
        if (!p.exact) {
          this.ctx.problems.warn(fraction.at, ProblemCode.IMPORT_APPROXIMATED, `${numerator}/${denominator} is mirrored as ${p.percent}% (Envoy's finest share is one in a million)`);
        }
      }
    }
    m.finish();
    if (cluster === undefined) return undefined;
    return this.ctx.out.note({ cluster, ...(share !== undefined && share !== 100 ? { percent: share } : {}) }, filter.at);
  }

  private headerModifier(h: Fields): RouteConfig['request_headers'] {
    const entries = (key: 'set' | 'add'): Array<{ name: string; value: string }> =>
      h.objects(key).flatMap((e) => {
        const name = e.string('name', true)?.toLowerCase();
        const value = e.string('value', true);
        e.finish();
        if (name === 'host') e.unsupported('name', 'the Host header cannot be changed by a header modifier (Envoy refuses it); use a URLRewrite hostname');
        return name !== undefined && value !== undefined && name !== 'host' ? [{ name, value }] : [];
      });
    const set = entries('set');
    const add = entries('add');
    const remove = h.strings('remove').map((r) => r.value.toLowerCase());
    h.finish();
    return { ...(set.length ? { set } : {}), ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) };
  }

  /** The match's shadowplane form and what precedence needs, or undefined after reporting. */
  private match(m: Fields | undefined): { match: RouteConfig['match']; pathRank: number; pathLength: number; prefix: string | undefined } | undefined {
    const path = m?.object('path');
    const type = path?.string('type') ?? 'PathPrefix';
    const value = path?.string('value') ?? '/';
    path?.finish();
    const match: RouteConfig['match'] = {} as RouteConfig['match'];
    let pathRank = 2;
    let prefix: string | undefined;
    if (type === 'Exact') {
      match.path = value;
      pathRank = 0;
    } else if (type === 'PathPrefix') {
      // Whole path elements, a trailing "/" ignored: /abc matches /abc, /abc/ and /abc/def, not /abcd.
      prefix = value === '/' ? '/' : value.replace(/\/+$/, '');
      if (prefix === '/' || prefix === '') match.prefix = '/';
      else match.path_separated_prefix = prefix;
    } else if (type === 'RegularExpression') {
      match.regex = value;
      pathRank = 1;
    } else {
      path?.unsupported('type', `path match type ${type}`);
      return undefined;
    }
    if (type !== 'RegularExpression' && !value.startsWith('/')) path?.invalid('value', 'must be an absolute path starting with "/"');
    const headers: HeaderMatchConfig[] = [];
    const headerNames = new Set<string>();
    for (const h of m?.objects('headers') ?? []) {
      const htype = h.string('type') ?? 'Exact';
      const name = h.string('name', true)?.toLowerCase();
      const hv = h.string('value', true);
      h.finish();
      if (name === undefined || hv === undefined) continue;
      // The spec: only the first entry for a header name counts (names compared case-insensitively).
      if (headerNames.has(name)) {
        this.ctx.problems.warn(h.at, ProblemCode.IMPORT_IGNORED, `header "${name}" is matched by an earlier entry; Gateway API ignores this one`);
        continue;
      }
      headerNames.add(name);
      if (htype === 'Exact') headers.push({ name, exact: hv });
      else if (htype === 'RegularExpression') headers.push({ name, regex: hv });
      else h.unsupported('type', `header match type ${htype}`);
    }
    const query: QueryParameterMatchConfig[] = [];
    const queryNames = new Set<string>();
    for (const q of m?.objects('queryParams') ?? []) {
      const qtype = q.string('type') ?? 'Exact';
      const name = q.string('name', true);
      const qv = q.string('value', true);
      q.finish();
      if (name === undefined || qv === undefined) continue;
      if (queryNames.has(name)) {
        this.ctx.problems.warn(q.at, ProblemCode.IMPORT_IGNORED, `query parameter "${name}" is matched by an earlier entry; Gateway API ignores this one`);
        continue;
      }
      queryNames.add(name);
      if (qtype === 'Exact') query.push({ name, exact: qv });
      else if (qtype === 'RegularExpression') query.push({ name, regex: qv });
      else q.unsupported('type', `query parameter match type ${qtype}`);
    }
    const method = m?.string('method');
    m?.finish();
    if (headers.length > 0) match.headers = headers;
    if (query.length > 0) match.query_parameters = query;
    if (method !== undefined) match.methods = [method];
    return { match, pathRank, pathLength: value.length, prefix };
  }

  private rule(route: KubeObject, rule: Fields, index: number): RouteEntry[] {
    const errorsBefore = this.ctx.problems.errorCount;
    const ruleName = rule.string('name');
    const base: Omit<RouteConfig, 'match' | 'name'> = {} as Omit<RouteConfig, 'match' | 'name'>;
    const mirrors: MirrorConfig[] = [];
    let rewrite: Fields | undefined;
    let headerMods: RouteConfig['request_headers'];
    const seenFilters = new Set<string>();
    for (const f of rule.objects('filters')) {
      const type = f.string('type', true);
      if (type === undefined) continue;
      if (type !== 'RequestMirror' && seenFilters.has(type)) f.invalid('type', `the ${type} filter cannot be repeated in a rule`);
      seenFilters.add(type);
      if (type === 'RequestMirror') {
        const m = f.object('requestMirror', true);
        const mirror = m && this.mirror(f, m, route);
        if (mirror) mirrors.push(mirror);
      } else if (type === 'RequestHeaderModifier') {
        const h = f.object('requestHeaderModifier', true);
        headerMods = h && this.headerModifier(h);
      } else if (type === 'URLRewrite') {
        rewrite = f.object('urlRewrite', true);
      } else {
        f.unsupported('type', `filter ${type}: shadowplane supports RequestMirror, RequestHeaderModifier and URLRewrite`);
        f.ignore(...f.keys());
      }
      f.finish();
    }
    // The rule's backends: a weighted split (weight 1 unless given; 0 gets no traffic).
    const split: Array<{ cluster: string; weight: number }> = [];
    const refs = rule.objects('backendRefs');
    for (const ref of refs) {
      const weight = ref.integer('weight', 0, 1_000_000) ?? 1;
      if (ref.list('filters').length > 0) ref.unsupported('filters', 'filters on a backendRef: put them on the rule');
      const cluster = this.backendCluster(ref, route);
      ref.finish();
      if (cluster !== undefined && weight > 0) split.push({ cluster, weight });
    }
    if (refs.length > 0 && split.length === 0 && this.ctx.problems.errorCount === errorsBefore) {
      rule.unsupported('backendRefs', 'every backendRef has weight 0: Gateway API answers such a rule with 500, which shadowplane does not serve');
    }
    if (refs.length === 0) rule.unsupported(undefined, 'a rule without backendRefs (Gateway API answers it with 500): shadowplane needs a backend to forward to');
    const timeouts = rule.object('timeouts');
    if (timeouts) {
      const request = timeouts.string('request');
      if (request !== undefined) {
        const ms = parseDurationMs(request);
        if (ms === undefined) timeouts.invalid('request', `"${request}" is not a duration such as "10s" or "1h30m"`);
        else base.timeout = formatDuration(ms);
      }
      if (timeouts.has('backendRequest')) timeouts.unsupported('backendRequest', 'timeouts.backendRequest (a per-attempt timeout; shadowplane makes one attempt)');
      timeouts.ignore('backendRequest');
      timeouts.finish();
    }
    const matches = rule.list('matches');
    const matchFields = matches.length === 0 ? [undefined] : rule.objects('matches');
    rule.finish();
    if (split.length === 1) base.cluster = split[0]!.cluster;
    else if (split.length > 1) base.weighted_clusters = split;
    if (headerMods && Object.keys(headerMods).length > 0) base.request_headers = headerMods;
    if (mirrors.length > 0) base.mirrors = mirrors;
    const entries = matchFields.map((m, j) => ({ m, j, built: this.match(m) }));
    if (rewrite) this.urlRewrite(rewrite, base, entries.map((e) => e.built));
    if (this.ctx.problems.errorCount > errorsBefore) return [];
    const created = route.created !== undefined ? Date.parse(route.created) : Number.POSITIVE_INFINITY;
    return entries.flatMap(({ m, j, built }) => {
      if (!built) return [];
      const name = `${route.namespace}.${route.name}.${ruleName ?? `rule${index}`}.match${j}`;
      const at = m ? m.at : rule.at;
      const config = this.ctx.out.note({ name, match: built.match, ...structuredClone(base) } as RouteConfig, at);
      config.mirrors?.forEach((mirror, k) => this.ctx.out.note(mirror, this.ctx.out.origin(base.mirrors![k]!) ?? at));
      return [
        {
          route: config,
          pathRank: built.pathRank,
          pathLength: built.pathLength,
          method: built.match.methods !== undefined,
          headers: built.match.headers?.length ?? 0,
          queryParams: built.match.query_parameters?.length ?? 0,
          created: Number.isNaN(created) ? Number.POSITIVE_INFINITY : created,
          id: `${route.namespace}/${route.name}`,
          rule: index,
          match: j,
        },
      ];
    });
  }

  /**
   * URLRewrite: hostname → host_rewrite; ReplaceFullPath → a regex_rewrite of the whole path (query
   * kept); ReplacePrefixMatch → prefix_rewrite of the matched path elements, as the spec's table
   * has it (a trailing "/" in the replacement is dropped, "" and "/" collapse to "/"), only in a rule
   * of exactly one PathPrefix match, as Gateway API's validation of HTTPRoute rules requires.
   */
  private urlRewrite(u: Fields, base: Omit<RouteConfig, 'match' | 'name'>, matches: ReadonlyArray<{ prefix: string | undefined } | undefined>): void {
    const hostname = u.string('hostname');
    if (hostname !== undefined) base.host_rewrite = hostname;
    const path = u.object('path');
    u.finish();
    if (!path) return;
    const type = path.string('type', true);
    const full = path.string('replaceFullPath');
    const prefix = path.string('replacePrefixMatch');
    path.finish();
    if (type === 'ReplaceFullPath') {
      if (full === undefined) path.invalid(undefined, 'replaceFullPath must be specified when type is ReplaceFullPath');
      else base.regex_rewrite = { pattern: '^/.*$', substitution: literalSubstitution(full) };
    } else if (type === 'ReplacePrefixMatch') {
      const matched = matches.length === 1 ? matches[0]?.prefix : undefined;
      if (prefix === undefined) path.invalid(undefined, 'replacePrefixMatch must be specified when type is ReplacePrefixMatch');
      else if (matched === undefined) {
        // The HTTPRoute CRD's validation rule, in its words: the API server refuses any other rule
        // (several matches, even all PathPrefix, or a match of another type). Envoy Gateway never sees one.
        path.invalid(
          undefined,
          `When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified (Gateway API's HTTPRoute validation; ${matches.length === 1 ? "this rule's match is not a PathPrefix" : `this rule has ${matches.length} matches: give each prefix a rule of its own`})`,
        );
      }
      else if (prefix === '' || prefix === '/') {
        if (matched !== '/') base.regex_rewrite = { pattern: `^${quoteRegex(matched)}/*`, substitution: '/' };
      } else {
        const replacement = prefix.replace(/\/+$/, '');
        base.prefix_rewrite = matched === '/' ? `${replacement}/` : replacement;
      }
    } else if (type !== undefined) {
      path.unsupported('type', `path modifier type ${type}`);
    }
  }

  /** The listeners a parentRef attaches the route to, with the hostnames it serves on each. */
  private attach(route: KubeObject, parent: Fields, hostnames: readonly string[]): Array<{ listener: GatewayListener; hostnames: string[] }> {
    const group = parent.string('group') ?? GATEWAY_API_GROUP;
    const kind = parent.string('kind') ?? 'Gateway';
    const name = parent.string('name', true);
    const namespace = parent.string('namespace') ?? route.namespace;
    const section = parent.string('sectionName');
    const port = parent.integer('port', 1, 65535);
    parent.finish();
    if (name === undefined) return [];
    const gatewayName = `${namespace}/${name}`;
    if (group !== GATEWAY_API_GROUP || kind !== 'Gateway') {
      this.ctx.problems.add(parent.at, ProblemCode.IMPORT_NO_PARENT, `Accepted=False, reason NoMatchingParent: parentRef ${group}/${kind} is not a Gateway`);
      return [];
    }
    const listeners = this.gateways.get(gatewayName) ?? (this.implyGateways ? this.impliedGateway(namespace, name, parent.at) : undefined);
    if (!listeners) {
      this.ctx.problems.add(parent.at, ProblemCode.IMPORT_NO_PARENT, `Accepted=False, reason NoMatchingParent: Gateway ${gatewayName} not found (add its document, e.g. kubectl get gateway ${name} -n ${namespace} -o yaml)`);
      return [];
    }
    const candidates = listeners.filter((l) => (section === undefined || l.name === section) && (port === undefined || l.port === port));
    if (candidates.length === 0) {
      const what = [section !== undefined ? `sectionName "${section}"` : '', port !== undefined ? `port ${port}` : ''].filter(Boolean).join(' and ');
      this.ctx.problems.add(parent.at, ProblemCode.IMPORT_NO_PARENT, `Accepted=False, reason NoMatchingParent: Gateway ${gatewayName} has no listener with ${what}`);
      return [];
    }
    const allowed = candidates.filter((l) => l.allow === 'All' || l.namespace === route.namespace);
    if (allowed.length === 0) {
      this.ctx.problems.add(parent.at, ProblemCode.IMPORT_NO_PARENT, `Accepted=False, reason NotAllowedByListeners: the listeners of Gateway ${gatewayName} only allow routes from namespace "${namespace}" (allowedRoutes.namespaces.from: Same)`);
      return [];
    }
    const out = allowed.flatMap((l) => {
      const h = intersectHostnames(l.hostname, hostnames);
      return h ? [{ listener: l, hostnames: h }] : [];
    });
    if (out.length === 0) {
      this.ctx.problems.add(parent.at, ProblemCode.IMPORT_NO_PARENT, `Accepted=False, reason NoMatchingListenerHostname: no listener of Gateway ${gatewayName} shares a hostname with this route`);
    }
    return out;
  }

  /**
   * A Gateway the routes name when the documents hold none (seed 002 prints only its HTTPRoutes and
   * Services): served as Envoy Gateway's quickstart Gateway would be, one HTTP listener on port 80,
   * bound at --listen-address, whose port (if given) replaces 80.
   */
  private impliedGateway(namespace: string, name: string, at: SourceRef): GatewayListener[] {
    const port = this.ctx.listen.port ?? IMPLIED_LISTENER.port;
    const listeners: GatewayListener[] = [{ gateway: `${namespace}/${name}`, namespace, name: IMPLIED_LISTENER.name, port, hostname: undefined, allow: 'Same', at, implied: true }];
    this.gateways.set(`${namespace}/${name}`, listeners);
    const where = this.ctx.listen.port === undefined ? '--listen-address IP:PORT picks another port' : 'the port --listen-address gives';
    this.ctx.problems.warn(
      at,
      ProblemCode.IMPORT_APPROXIMATED,
      `Gateway ${namespace}/${name} is not among the documents (none is): its routes are served on an implied Gateway like Envoy Gateway's quickstart, one HTTP listener "${IMPLIED_LISTENER.name}" on ${listenerAddress(this.ctx.listen.host, port)} (${where})`,
    );
    return listeners;
  }

  /** Builds the listeners once every document has been read. */
  build(): void {
    this.implyGateways = this.gateways.size === 0;
    // Per port: hostname → route entries.
    const ports = new Map<string, { port: number; gateway: string; at: SourceRef; implied: boolean; hosts: Map<string, RouteEntry[]> }>();
    for (const route of this.routes) {
      const spec = route.fields.object('spec', true);
      route.fields.finish();
      if (!spec) continue;
      const hostnames = spec.strings('hostnames').flatMap((h) => {
        if (HOSTNAME_RE.test(h.value)) return [h.value.toLowerCase()];
        this.ctx.problems.add(h.at, ProblemCode.IMPORT_INVALID_VALUE, `"${h.value}" is not a hostname (a DNS name, optionally starting with "*.")`);
        return [];
      });
      const parents = spec.objects('parentRefs', true).flatMap((p) => this.attach(route, p, hostnames));
      const rules = spec.objects('rules');
      if (rules.length === 0) spec.unsupported('rules', 'a route without rules has no backend (Gateway API answers it with 500)');
      const entries = rules.flatMap((r, i) => this.rule(route, r, i));
      spec.finish();
      for (const { listener, hostnames: hosts } of parents) {
        const key = `${listener.gateway}:${listener.port}`;
        let group = ports.get(key);
        if (!group) {
          group = { port: listener.port, gateway: listener.gateway, at: listener.at, implied: listener.implied, hosts: new Map() };
          ports.set(key, group);
        }
        for (const h of hosts) {
          const list = group.hosts.get(h) ?? [];
          list.push(...entries);
          group.hosts.set(h, list);
        }
      }
    }
    for (const g of [...ports.values()].sort((a, b) => compareStrings(a.gateway, b.gateway) || a.port - b.port)) {
      const virtualHosts = assembleVirtualHosts(
        [...g.hosts].map(([hostname, list]) => ({ hostname, routes: [...new Set(list)].sort(byPrecedence).map((e) => e.route) })),
        true,
      );
      if (virtualHosts.length === 0) continue;
      if (this.ctx.listen.port !== undefined && !g.implied && this.ctx.listen.port !== g.port) {
        this.ctx.problems.warn(
          child(g.at, 'port'),
          ProblemCode.IMPORT_APPROXIMATED,
          `this listener binds its own port, ${listenerAddress(this.ctx.listen.host, g.port)}: --listen-address's port ${this.ctx.listen.port} is used only for a Gateway the documents do not hold`,
        );
      }
      const [ns, name] = g.gateway.split('/') as [string, string];
      this.ctx.out.listeners.push(
        this.ctx.out.note(
          { name: `${ns}.${name}.${g.port}`, address: listenerAddress(this.ctx.listen.host, g.port), virtual_hosts: virtualHosts },
          child(g.at, 'port'),
        ),
      );
    }
  }
}
