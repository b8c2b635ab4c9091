// Checks that need the whole file: references between sections, uniqueness, ranges, JSONPaths and
// the trust warning for header-selected mirrors. Every problem is collected; none stops the pass.
import { DENOMINATOR_VALUE } from '../envoy-api/envoy-defaults.js';
import { parseJsonPath } from '../json-path/json-path.js';
import { compileRegexRewrite, compileSafeRegex } from '../safe-regex/safe-regex.js';
import { isIpLiteral, isWildcardAddress, parseHostPort } from './address.js';
import { error, ProblemCode, warning, type FieldPath, type UnplacedProblem } from './problems.js';
import { defaultRuntimeKey, mirrorTargetName, routeKey, type MirrorScope } from './runtime-keys.js';
import { GenerationMemo } from '../memo/generation-memo.js';
import type { ClusterConfig, ConfigFile, HeaderChangesConfig, HeaderListConfig, ListenerConfig, MirrorConfig, RouteConfig } from './schema.js';

/** Seed 000's warning, quoted where a header may pick the mirror cluster without an allowlist. */
export const HEADER_TRUST_WARNING =
  'Allowing a request header to determine the cluster that the request is mirrored to is most useful in a trusted environment. ' +
  'If you allow dynamic mirroring according to request header, you may wish to restrict which requests can set or proxy the header.';

/** Allowlists are enforced with a route variant per allowed value (and combination); this bounds them. */
export const MAX_ROUTE_VARIANTS = 64;

class ProblemList {
  readonly items: UnplacedProblem[] = [];
  add(p: UnplacedProblem): void {
    this.items.push(p);
  }
}

function checkUnique(names: Array<{ name: string | undefined; path: FieldPath }>, what: string, out: ProblemList): void {
  const seen = new Map<string, FieldPath>();
  for (const { name, path } of names) {
    if (name === undefined) continue;
    if (seen.has(name)) {
      out.add(error(ProblemCode.DUPLICATE_NAME, path, `duplicate ${what} "${name}" (first at ${formatShort(seen.get(name)!)})`));
    } else {
      seen.set(name, path);
    }
  }
}

function formatShort(path: FieldPath): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
}

// RE2, as Envoy and the built-in data path match it, not JavaScript's RegExp.
function checkRegex(pattern: string, path: FieldPath, out: ProblemList): void {
  const compiled = compileSafeRegex(pattern);
  if (!compiled.ok) out.add(error(ProblemCode.BAD_REGEX, path, `invalid RE2 regular expression: ${compiled.message}`));
}

/** Envoy refuses to add, set or remove pseudo-headers and Host through header mutations (a NACK). */
function checkHeaderChanges(h: HeaderChangesConfig | undefined, path: FieldPath, out: ProblemList): void {
  if (!h) return;
  const names = (list: HeaderListConfig | undefined): Array<[string | number, string]> =>
    list === undefined ? [] : Array.isArray(list) ? list.map((e, i) => [i, e.name]) : Object.keys(list).map((k) => [k, k]);
  const entries: Array<[FieldPath, string]> = [
    ...names(h.add).map(([k, n]): [FieldPath, string] => [[...path, 'add', k], n]),
    ...names(h.set).map(([k, n]): [FieldPath, string] => [[...path, 'set', k], n]),
    ...(h.remove ?? []).map((n, i): [FieldPath, string] => [[...path, 'remove', i], n]),
  ];
  for (const [p, n] of entries) {
    const lower = n.toLowerCase();
    if (lower.startsWith(':') || lower === 'host') out.add(error(ProblemCode.SCHEMA, p, `"${n}" cannot be changed here (Envoy rejects :-prefixed and host headers in header mutations)`));
  }
}

function checkClusterRef(name: string, path: FieldPath, clusters: ReadonlySet<string>, out: ProblemList): void {
  if (!clusters.has(name)) out.add(error(ProblemCode.UNKNOWN_CLUSTER, path, `unknown cluster "${name}"`));
}

function checkPercent(m: MirrorConfig, path: FieldPath, out: ProblemList): void {
  if (m.percent !== undefined && m.fraction !== undefined) {
    out.add(error(ProblemCode.PERCENT_RANGE, path, 'set percent or fraction, not both'));
  }
  if (m.percent !== undefined) {
    const p = m.percent;
    if (!(p >= 0 && p <= 100)) {
      out.add(error(ProblemCode.PERCENT_RANGE, [...path, 'percent'], `percent ${p} is out of range 0–100`));
    } else if (Math.abs(p * 10_000 - Math.round(p * 10_000)) > 1e-6) {
      out.add(error(ProblemCode.PERCENT_RANGE, [...path, 'percent'], `percent ${p} is finer than 0.0001`));
    }
  }
  if (m.fraction !== undefined && m.fraction.numerator > DENOMINATOR_VALUE[m.fraction.denominator]) {
    out.add(
      error(
        ProblemCode.PERCENT_RANGE,
        [...path, 'fraction', 'numerator'],
        `numerator ${m.fraction.numerator} exceeds denominator ${m.fraction.denominator}`,
      ),
    );
  }
}

// The data path's own parser, so a path accepted here is one the data path takes.
function checkCompare(m: MirrorConfig, path: FieldPath, out: ProblemList): void {
  m.compare?.ignore_json_paths?.forEach((text, i) => {
    const parsed = parseJsonPath(text);
    if (!parsed.ok) out.add(error(ProblemCode.BAD_JSON_PATH, [...path, 'compare', 'ignore_json_paths', i], parsed.message));
  });
}

interface MirrorWalk {
  clusters: ReadonlySet<string>;
  runtimeKeys: Map<string, FieldPath>;
  unrestrictedHeaderMirror: boolean;
  used: Set<string>;
}

function checkMirrors(
  mirrors: readonly MirrorConfig[] | undefined,
  path: FieldPath,
  scope: MirrorScope,
  walk: MirrorWalk,
  out: ProblemList,
): void {
  if (!mirrors) return;
  const variants = mirrors.reduce((n, m) => (m.cluster_header !== undefined && m.allowed_clusters ? n * (m.allowed_clusters.length + 1) : n), 1);
  if (variants > MAX_ROUTE_VARIANTS) {
    out.add(
      error(
        ProblemCode.TOO_MANY_HEADER_MIRRORS,
        path,
        `these allowlists need ${variants} variants of each route (one per allowed value and combination); at most ${MAX_ROUTE_VARIANTS}`,
      ),
    );
  }
  checkUnique(
    mirrors.map((m, i) => ({ name: mirrorTargetName(m), path: [...path, i] })),
    'mirror target',
    out,
  );
  mirrors.forEach((m, i) => {
    const mp = [...path, i];
    if ((m.cluster === undefined) === (m.cluster_header === undefined)) {
      out.add(error(ProblemCode.MIRROR_TARGET, mp, 'needs exactly one of cluster or cluster_header'));
    }
    if (m.cluster !== undefined) {
      checkClusterRef(m.cluster, [...mp, 'cluster'], walk.clusters, out);
      walk.used.add(m.cluster);
      if (m.allowed_clusters !== undefined) {
        out.add(error(ProblemCode.MIRROR_TARGET, [...mp, 'allowed_clusters'], 'allowed_clusters goes with cluster_header'));
      }
    }
    if (m.cluster_header !== undefined) {
      if (m.path !== undefined && m.allowed_clusters === undefined) {
        // The rewrite is compiled per mirror cluster (translate/mirror-path.ts), so they must be known.
        out.add(error(ProblemCode.MIRROR_TARGET, [...mp, 'path'], 'path needs a fixed cluster: give cluster, or allowed_clusters with cluster_header'));
      }
      if (m.allowed_clusters === undefined) {
        walk.unrestrictedHeaderMirror = true;
        out.add(
          warning(
            ProblemCode.HEADER_MIRROR_WITHOUT_ALLOWLIST,
            [...mp, 'cluster_header'],
            `any request may choose the mirror cluster through "${m.cluster_header}"; add allowed_clusters. Envoy's docs: "${HEADER_TRUST_WARNING}"`,
          ),
        );
      }
      m.allowed_clusters?.forEach((c, j) => {
        walk.used.add(c);
        if (!walk.clusters.has(c)) {
          out.add(error(ProblemCode.UNKNOWN_ALLOWED_CLUSTER, [...mp, 'allowed_clusters', j], `unknown cluster "${c}" in allowlist`));
        }
      });
    }
    checkPercent(m, mp, out);
    checkCompare(m, mp, out);
    checkHeaderChanges(m.headers, [...mp, 'headers'], out);
    const key = m.runtime_key ?? defaultRuntimeKey(scope, m);
    const first = walk.runtimeKeys.get(key);
    if (first) {
      out.add(error(ProblemCode.DUPLICATE_NAME, [...mp, 'runtime_key'], `duplicate runtime key "${key}" (first at ${formatShort(first)})`));
    } else {
      walk.runtimeKeys.set(key, [...mp, 'runtime_key']);
    }
  });
}

function checkRoute(r: RouteConfig, path: FieldPath, scope: MirrorScope, walk: MirrorWalk, out: ProblemList): void {
  if (r.match.regex !== undefined) checkRegex(r.match.regex, [...path, 'match', 'regex'], out);
  r.match.headers?.forEach((h, i) => {
    if (h.regex !== undefined) checkRegex(h.regex, [...path, 'match', 'headers', i, 'regex'], out);
  });
  r.match.query_parameters?.forEach((q, i) => {
    if (q.regex !== undefined) checkRegex(q.regex, [...path, 'match', 'query_parameters', i, 'regex'], out);
  });
  if (r.regex_rewrite !== undefined) {
    const rw = compileRegexRewrite(r.regex_rewrite.pattern, r.regex_rewrite.substitution);
    if (!rw.ok) out.add(error(ProblemCode.BAD_REGEX, [...path, 'regex_rewrite'], `invalid regex_rewrite: ${rw.message}`));
  }
  checkHeaderChanges(r.request_headers, [...path, 'request_headers'], out);
  if (r.cluster !== undefined) {
    checkClusterRef(r.cluster, [...path, 'cluster'], walk.clusters, out);
    walk.used.add(r.cluster);
  }
  r.weighted_clusters?.forEach((w, i) => {
    checkClusterRef(w.cluster, [...path, 'weighted_clusters', i, 'cluster'], walk.clusters, out);
    walk.used.add(w.cluster);
  });
  checkMirrors(r.mirrors, [...path, 'mirrors'], scope, walk, out);
}

function checkCluster(c: ClusterConfig, path: FieldPath, out: ProblemList): void {
  const hosts: string[] = [];
  c.endpoints.forEach((e, i) => {
    const text = typeof e === 'string' ? e : e.address;
    const hp = parseHostPort(text);
    const ep = typeof e === 'string' ? [...path, 'endpoints', i] : [...path, 'endpoints', i, 'address'];
    if (!hp) out.add(error(ProblemCode.BAD_ADDRESS, ep, `"${text}" is not host:port`));
    else hosts.push(hp.host);
  });
  if (c.type === 'static' && hosts.some((h) => !isIpLiteral(h))) {
    out.add(error(ProblemCode.CLUSTER_TYPE, [...path, 'type'], 'static endpoints must be IP addresses; use strict_dns or logical_dns for names'));
  }
  if (c.dns_lookup_family !== undefined && hosts.every((h) => isIpLiteral(h)) && c.type !== 'strict_dns' && c.type !== 'logical_dns') {
    out.add(error(ProblemCode.CLUSTER_TYPE, [...path, 'dns_lookup_family'], 'dns_lookup_family applies to DNS clusters (strict_dns, logical_dns, or names as endpoints)'));
  }
  if (c.type === 'logical_dns' && c.endpoints.length !== 1) {
    out.add(error(ProblemCode.CLUSTER_TYPE, [...path, 'endpoints'], 'logical_dns takes exactly one endpoint'));
  }
}

function overlaps(a: string, b: string): boolean {
  return a === b || isWildcardAddress(a) || isWildcardAddress(b);
}

/** The listener's address, which no other listener may share a port with. */
function checkListenerAddress(l: ListenerConfig, lp: FieldPath, bound: Array<{ host: string; port: number; path: FieldPath }>, out: ProblemList): void {
  const hp = parseHostPort(l.address);
  if (!hp) {
    out.add(error(ProblemCode.BAD_ADDRESS, [...lp, 'address'], `"${l.address}" is not host:port`));
  } else if (!isIpLiteral(hp.host)) {
    out.add(error(ProblemCode.BAD_ADDRESS, [...lp, 'address'], `listener address "${hp.host}" must be an IP address`));
  } else {
    const clash = bound.find((b) => b.port === hp.port && overlaps(b.host, hp.host));
    if (clash) {
      out.add(error(ProblemCode.PORT_CONFLICT, [...lp, 'address'], `port ${hp.port} is already taken by ${formatShort(clash.path)}`));
    }
    bound.push({ ...hp, path: lp });
  }
}

/** Everything about one listener but its address: mirrors, virtual hosts, domains, routes. */
function checkListenerRoutes(l: ListenerConfig, lp: FieldPath, walk: MirrorWalk, out: ProblemList): void {
  checkMirrors(l.mirrors, [...lp, 'mirrors'], { listener: l.name }, walk, out);
  checkUnique(l.virtual_hosts.map((v, vi) => ({ name: v.name, path: [...lp, 'virtual_hosts', vi, 'name'] })), 'virtual host', out);
  checkUnique(
    l.virtual_hosts.flatMap((v, vi) => v.domains.map((d, di) => ({ name: d.toLowerCase(), path: [...lp, 'virtual_hosts', vi, 'domains', di] }))),
    'domain',
    out,
  );
  l.virtual_hosts.forEach((v, vi) => {
    const vp: FieldPath = [...lp, 'virtual_hosts', vi];
    checkMirrors(v.mirrors, [...vp, 'mirrors'], { listener: l.name, virtualHost: v.name }, walk, out);
    checkUnique(v.routes.map((r, ri) => ({ name: r.name, path: [...vp, 'routes', ri, 'name'] })), 'route', out);
    v.routes.forEach((r, ri) =>
      checkRoute(r, [...vp, 'routes', ri], { listener: l.name, virtualHost: v.name, route: routeKey(r.name, ri) }, walk, out),
    );
  });
}

function newWalk(clusters: readonly ClusterConfig[]): MirrorWalk {
  return { clusters: new Set(clusters.map((c) => c.name)), runtimeKeys: new Map(), unrestrictedHeaderMirror: false, used: new Set() };
}

function checkUnusedClusters(clusters: readonly ClusterConfig[], walk: Pick<MirrorWalk, 'unrestrictedHeaderMirror' | 'used'>, out: ProblemList): void {
  if (walk.unrestrictedHeaderMirror) return;
  clusters.forEach((c, i) => {
    if (!walk.used.has(c.name)) {
      out.add(warning(ProblemCode.UNUSED_CLUSTER, ['clusters', i, 'name'], `cluster "${c.name}" is not used by any route or mirror`));
    }
  });
}

/** Every cross-reference and range problem in a schema-valid file. */
export function checkSemantics(config: ConfigFile): UnplacedProblem[] {
  const out = new ProblemList();
  checkUnique(config.clusters.map((c, i) => ({ name: c.name, path: ['clusters', i, 'name'] })), 'cluster', out);
  checkUnique(config.listeners.map((l, i) => ({ name: l.name, path: ['listeners', i, 'name'] })), 'listener', out);
  config.clusters.forEach((c, i) => checkCluster(c, ['clusters', i], out));
  const walk = newWalk(config.clusters);
  const bound: Array<{ host: string; port: number; path: FieldPath }> = [];
  config.listeners.forEach((l, li) => {
    checkListenerAddress(l, ['listeners', li], bound, out);
    checkListenerRoutes(l, ['listeners', li], walk, out);
  });
  checkUnusedClusters(config.clusters, walk, out);
  return out.items;
}

/** What one listener's checks found, when they found nothing. */
interface CleanListener {
  readonly runtimeKeys: readonly string[];
  readonly used: ReadonlySet<string>;
  readonly unrestrictedHeaderMirror: boolean;
}

/**
 * The fast path's question, answered from parts: would checkSemantics(config) find nothing at all
 * (no error, no warning)? Each cluster and each listener is checked once and the answer kept while
 * the same object comes again (a listener's, as long as the cluster names stay the same); what
 * spans parts (names, ports, runtime keys, unused clusters) is checked across them every time.
 */
export class SemanticCheckMemo {
  private readonly clusters = new GenerationMemo<ClusterConfig, boolean>();
  private readonly listeners = new GenerationMemo<ListenerConfig, CleanListener | undefined>();

  isClean(config: ConfigFile): boolean {
    this.clusters.nextGeneration();
    this.listeners.nextGeneration();
    const out = new ProblemList();
    checkUnique(config.clusters.map((c, i) => ({ name: c.name, path: ['clusters', i, 'name'] })), 'cluster', out);
    checkUnique(config.listeners.map((l, i) => ({ name: l.name, path: ['listeners', i, 'name'] })), 'listener', out);
    if (out.items.length > 0) return false;
    for (const c of config.clusters) {
      const clean = this.clusters.get(c, undefined, () => {
        const own = new ProblemList();
        checkCluster(c, [], own);
        return own.items.length === 0;
      });
      if (!clean) return false;
    }
    const names = config.clusters.map((c) => c.name).join('\0');
    const bound: Array<{ host: string; port: number; path: FieldPath }> = [];
    const runtimeKeys = new Set<string>();
    const used = new Set<string>();
    let unrestrictedHeaderMirror = false;
    for (const [li, l] of config.listeners.entries()) {
      checkListenerAddress(l, ['listeners', li], bound, out);
      const clean = this.listeners.get(l, names, () => {
        const own = new ProblemList();
        const walk = newWalk(config.clusters);
        checkListenerRoutes(l, [], walk, own);
        return own.items.length > 0 ? undefined : { runtimeKeys: [...walk.runtimeKeys.keys()], used: walk.used, unrestrictedHeaderMirror: walk.unrestrictedHeaderMirror };
      });
      if (!clean || out.items.length > 0) return false;
      for (const k of clean.runtimeKeys) {
        if (runtimeKeys.has(k)) return false;
        runtimeKeys.add(k);
      }
      for (const c of clean.used) used.add(c);
      unrestrictedHeaderMirror ||= clean.unrestrictedHeaderMirror;
    }
    checkUnusedClusters(config.clusters, { used, unrestrictedHeaderMirror }, out);
    return out.items.length === 0;
  }
}
