// APISIX configurations: the standalone apisix.yaml (routes, upstreams, services, plugin_configs),
// APISIX's config.yaml for plugin_attr (the proxy-mirror timeouts) and node_listen, ADC's services
// with routes, and one route as the Admin API takes it. The proxy-mirror plugin becomes a mirror;
// APISIX's own semantics are kept where they differ from Envoy's (README: "APISIX"): radixtree
// routing (full path before the longest prefix, then priority; host routes before host-less ones),
// the mirror's Host (the primary's, no -shadow), nginx's 60 s timeouts and no route timeout.
// https://apisix.apache.org/docs/apisix/plugins/proxy-mirror/
import { isIP } from 'node:net';
import { formatPath, ProblemCode } from '../problems.js';
import type { ClusterConfig, MirrorConfig, RouteConfig } from '../schema.js';
import { listenerAddress, type ImportContext } from './context.js';
import { APISIX_CONFIG_FILE_KEYS, APISIX_STANDALONE_FILE_KEYS, APISIX_STANDALONE_KEYS, apisixKeyMeant, type DetectedLayout } from './detect.js';
import { Fields, type Dialect } from './fields.js';
import { hostPort } from './kubernetes.js';
import type { SourceObject, SourceRef } from './source.js';
import { formatDuration, parseDurationMs, percentOf } from './values.js';
import { assembleVirtualHosts } from './virtual-hosts.js';

export const APISIX: Dialect = { importer: "shadowplane's APISIX import", unsupportedReason: '' };

/** APISIX's own listener when nothing says otherwise (apisix.node_listen's default). */
export const APISIX_DEFAULT_PORT = 9080;
/** nginx's proxy_connect/read/send_timeout, which APISIX keeps, and proxy-mirror's own defaults. */
const NGINX_TIMEOUT = '60s';
const SCHEME_PORT: Record<string, number> = { http: 80, https: 443 };

interface Timeouts {
  readonly connect: string | undefined;
  /** The longer of send and read: the whole exchange is bounded by it (see README). */
  readonly stream: string | undefined;
}

/** An upstream, read once, turned into clusters on demand. */
interface Upstream {
  readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number; readonly weight: number }>;
  readonly scheme: 'http' | 'https';
  readonly passHost: 'pass' | 'node' | 'rewrite';
  readonly upstreamHost: string | undefined;
  readonly timeouts: Timeouts;
  readonly at: SourceRef;
}

interface PluginSet {
  readonly plugins: ReadonlyMap<string, Fields>;
}

interface Service {
  readonly upstream: (() => Upstream | undefined) | undefined;
  readonly plugins: PluginSet;
  readonly hosts: readonly string[] | undefined;
}

/** One entry of config.yaml's apisix.node_listen: a listener. */
interface NodeListen {
  /** The entry's `ip`; undefined: every address (bound at --listen-address's IP). */
  readonly host: string | undefined;
  readonly port: number;
  readonly at: SourceRef;
}

/** One route as APISIX matches it: a uri of it, its hosts, priority, and what it does. */
interface Entry {
  readonly route: RouteConfig;
  readonly hosts: readonly string[];
  readonly exact: boolean;
  readonly length: number;
  readonly priority: number;
  readonly order: number;
}

/** A name for the generated config from an APISIX id or an ADC name (which may hold spaces). */
function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '-');
}

/** A plugin's `_meta` and whether `_meta.disable` turns it off; the rest of `_meta` is read by readMeta for a plugin that runs. */
function pluginMeta(plugin: Fields): { enabled: boolean; meta: Fields | undefined } {
  const meta = plugin.object('_meta');
  return { enabled: meta?.boolean('disable') !== true, meta };
}

/**
 * The rest of an applied plugin's [`_meta`](https://apisix.apache.org/docs/apisix/terminology/plugin/#plugin-common-configuration):
 * `filter` and `pre_function` change which requests the plugin runs on, which shadowplane cannot
 * follow (SP014); `priority` and `error_response` change nothing proxy-mirror does (SP103).
 */
function readMeta(meta: Fields | undefined, name: string): void {
  if (!meta) return;
  if (meta.has('filter')) meta.unsupported('filter', `_meta.filter: ${name} would run only on the requests the filter's vars match; shadowplane applies it to every request of the route`);
  if (meta.has('pre_function')) meta.unsupported('pre_function', `_meta.pre_function: shadowplane runs no Lua before ${name}`);
  meta.ignore('filter', 'pre_function');
  meta.ignoreWithWarning('priority', `${name} is the only plugin shadowplane runs, so its order among plugins changes nothing`);
  meta.ignoreWithWarning('error_response', `${name} never rejects a request, so it has no error response to replace`);
  meta.finish();
}

export class ApisixImport {
  private readonly upstreams = new Map<string, () => Upstream | undefined>();
  private readonly services = new Map<string, Service>();
  private readonly pluginConfigs = new Map<string, PluginSet>();
  private readonly routes: Array<{ fields: Fields; order: number; adcService: Service | undefined; clusterPrefix: string }> = [];
  private mirrorTimeouts: Timeouts = { connect: NGINX_TIMEOUT, stream: NGINX_TIMEOUT };
  /** config.yaml's apisix.node_listen; undefined: APISIX's default, 0.0.0.0:9080. */
  private listens: NodeListen[] | undefined;
  private first: SourceRef | undefined;

  constructor(private readonly ctx: ImportContext) {}

  /** A top-level APISIX object of the layout detected. */
  read(o: SourceObject, layout: Extract<DetectedLayout, { layout: 'apisix' }>): void {
    const top = Fields.open(o.value, o.at, this.ctx.problems, APISIX);
    if (!top) return;
    this.first ??= o.at;
    if (layout.variant === 'route') {
      const id = top.has('id') ? String(top.raw('id')) : undefined;
      this.routes.push({ fields: top.as(id === undefined ? 'route' : `route/${id}`), order: this.routes.length, adcService: undefined, clusterPrefix: 'apisix' });
      return;
    }
    if (layout.variant === 'adc') {
      this.readAdc(top);
      return;
    }
    for (const u of top.objects('upstreams')) {
      const id = u.id('id', true);
      if (id !== undefined) this.defineOnce(this.upstreams, id, u, 'upstream', this.upstreamReader(u.as(`upstream/${id}`)));
    }
    for (const c of top.objects('plugin_configs')) {
      const id = c.id('id', true);
      const pc = c.as(`plugin_config/${id ?? '?'}`);
      const plugins = this.readPlugins(pc);
      pc.ignore('desc', 'labels', 'create_time', 'update_time', 'name');
      pc.finish();
      if (id !== undefined) this.defineOnce(this.pluginConfigs, id, c, 'plugin_config', plugins);
    }
    for (const s of top.objects('services')) {
      const id = s.id('id', true);
      if (id !== undefined) this.defineOnce(this.services, id, s, 'service', this.readService(s.as(`service/${id}`)));
    }
    top.objects('routes').forEach((r) => this.routes.push({ fields: r.as(`route/${r.has('id') ? String(r.raw('id')) : this.routes.length}`), order: this.routes.length, adcService: undefined, clusterPrefix: 'apisix' }));
    const attr = top.object('plugin_attr');
    if (attr) this.readPluginAttr(attr);
    const apisix = top.object('apisix');
    if (apisix) {
      if (apisix.has('node_listen')) this.listens = this.readNodeListen(apisix);
      apisix.ignore('node_listen');
      const router = apisix.object('router');
      const http = router?.string('http');
      if (http !== undefined && http !== 'radixtree_host_uri') router!.unsupported('http', `router ${http}: shadowplane routes as radixtree_host_uri (APISIX's default)`);
      router?.ignore(...(router?.keys() ?? []));
      for (const k of apisix.keys()) if (k !== 'node_listen' && k !== 'router') apisix.ignoreWithWarning(k, "one of APISIX's process settings, not routing");
    }
    // config.yaml's process settings; anything else (global_rules, consumers, ssls, …) is reported by finish().
    for (const k of ['deployment', 'nginx_config', 'plugins', 'stream_plugins', 'discovery', 'graphql', 'wasm', 'xrpc', 'ext-plugin']) {
      top.ignoreWithWarning(k, "one of APISIX's process settings, not routing");
    }
    // A key that is not APISIX's at all (a misspelling: `route:`) is named as APISIX would have it;
    // APISIX's own keys shadowplane does not read (global_rules, consumers, …) are reported by finish().
    for (const k of top.keys()) {
      if (APISIX_STANDALONE_KEYS.has(k)) continue;
      const meant = apisixKeyMeant(k);
      const known = meant !== undefined ? `did you mean "${meant}"?` : `APISIX's apisix.yaml has ${APISIX_STANDALONE_FILE_KEYS.join(', ')}; its config.yaml ${APISIX_CONFIG_FILE_KEYS.join(', ')}`;
      this.ctx.problems.add(top.ref(k), ProblemCode.IMPORT_UNSUPPORTED, `"${k}" is not a top-level key of APISIX's apisix.yaml or config.yaml: ${known}`, true);
      top.ignore(k);
    }
    top.finish();
  }

  /**
   * config.yaml's `apisix.node_listen`: a port, or a list of ports and `{ port, ip, enable_http2 }`
   * entries (APISIX's conf/config-default.yaml), each a listener APISIX serves every route on.
   */
  private readNodeListen(apisix: Fields): NodeListen[] | undefined {
    const raw = apisix.raw('node_listen');
    const at = apisix.ref('node_listen');
    const port = (value: unknown, where: SourceRef): number | undefined => {
      if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
      this.ctx.problems.add(where, ProblemCode.IMPORT_INVALID_VALUE, `expected a port from 1 to 65535, got ${JSON.stringify(value)}`);
      return undefined;
    };
    if (!Array.isArray(raw)) {
      if (typeof raw !== 'number') {
        apisix.invalid('node_listen', `expected a port, or a list of ports and { port, ip } entries, got ${JSON.stringify(raw)}`);
        return undefined;
      }
      const p = port(raw, at);
      return p === undefined ? undefined : [{ host: undefined, port: p, at }];
    }
    if (raw.length === 0) {
      apisix.invalid('node_listen', 'expected a port, or a list of ports and { port, ip } entries');
      return undefined;
    }
    const out: NodeListen[] = [];
    for (const e of apisix.list('node_listen')) {
      if (typeof e.value !== 'object' || e.value === null) {
        const p = port(e.value, e.at);
        if (p !== undefined) out.push({ host: undefined, port: p, at: e.at });
        continue;
      }
      const f = Fields.open(e.value, e.at, this.ctx.problems, APISIX);
      if (!f) continue;
      const p = f.integer('port', 1, 65535, true);
      const ip = f.string('ip');
      const host = ip?.replace(/^\[(.*)\]$/, '$1');
      if (host !== undefined && isIP(host) === 0) f.invalid('ip', `"${ip}" is not an IP address`);
      if (f.boolean('enable_http2') === true) {
        this.ctx.problems.warn(
          f.ref('enable_http2'),
          ProblemCode.IMPORT_APPROXIMATED,
          'enable_http2: Envoy takes HTTP/2 with prior knowledge (h2c) on every listener, this one included; the built-in data plane takes HTTP/1.1 only',
          true,
        );
      }
      f.finish();
      if (p !== undefined && (host === undefined || isIP(host) !== 0)) out.push({ host, port: p, at: e.at });
    }
    // Two entries for one address: nginx refuses the duplicate listen.
    const seen = new Map<string, NodeListen>();
    for (const l of out) {
      const key = listenerAddress(l.host ?? '*', l.port);
      const first = seen.get(key);
      if (first) this.ctx.problems.add(l.at, ProblemCode.IMPORT_DUPLICATE, `node_listen lists ${l.host ?? 'every address'} port ${l.port} twice (also at ${formatPath(first.at.shown)})`);
      else seen.set(key, l);
    }
    return out.length > 0 ? out : undefined;
  }

  private defineOnce<T>(into: Map<string, T>, id: string, f: Fields, what: string, value: T): void {
    if (into.has(id)) this.ctx.problems.add(f.ref('id'), ProblemCode.IMPORT_DUPLICATE, `${what} ${id} is defined twice`);
    else into.set(id, value);
  }

  private readPluginAttr(attr: Fields): void {
    for (const name of attr.keys()) {
      if (name !== 'proxy-mirror') {
        attr.ignoreWithWarning(name, `plugin_attr of ${name}, a plugin shadowplane does not run`);
        continue;
      }
      const pm = attr.object(name)!;
      const t = pm.object('timeout');
      const read = (k: string): number | undefined => {
        const v = t?.raw(k);
        if (v === undefined) return parseDurationMs(NGINX_TIMEOUT);
        const ms = typeof v === 'string' ? parseDurationMs(v) : typeof v === 'number' ? v * 1000 : undefined;
        if (ms === undefined) t!.invalid(k, `"${String(v)}" is not a time such as "2000ms" or "60s"`);
        return ms;
      };
      const [connect, readMs, send] = [read('connect'), read('read'), read('send')];
      t?.finish();
      pm.finish();
      this.mirrorTimeouts = {
        connect: connect === undefined ? undefined : formatDuration(connect),
        stream: readMs === undefined || send === undefined ? undefined : formatDuration(Math.max(readMs, send)),
      };
    }
  }

  private readTimeouts(t: Fields | undefined): Timeouts | undefined {
    if (!t) return undefined;
    const secs = (k: string): number | undefined => {
      const n = t.number(k);
      if (n !== undefined && !(n > 0)) t.invalid(k, `a positive number of seconds, got ${n}`);
      return n;
    };
    const [connect, send, read] = [secs('connect'), secs('send'), secs('read')];
    t.finish();
    const stream = Math.max(send ?? 60, read ?? 60);
    return { connect: formatDuration((connect ?? 60) * 1000), stream: formatDuration(stream * 1000) };
  }

  /** Reads an upstream now (problems at its place) and hands back a reader of what it holds. */
  private upstreamReader(u: Fields): () => Upstream | undefined {
    const type = u.string('type') ?? 'roundrobin';
    if (type === 'chash') u.unsupported('type', 'type chash (consistent hashing): shadowplane balances round robin');
    else if (type !== 'roundrobin') this.ctx.problems.warn(u.ref('type'), ProblemCode.IMPORT_APPROXIMATED, `type ${type}: shadowplane balances round robin`);
    const schemeRaw = u.string('scheme') ?? 'http';
    const scheme = schemeRaw === 'https' ? 'https' : 'http';
    if (schemeRaw !== 'http' && schemeRaw !== 'https') u.unsupported('scheme', `scheme ${schemeRaw}: shadowplane forwards HTTP and HTTPS`);
    const nodes: Array<{ host: string; port: number; weight: number }> = [];
    const raw = u.raw('nodes');
    const splitHost = (text: string): { host: string; port: number | undefined } => {
      const m = /^\[(.+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
      return { host: m?.[1] ?? text, port: m?.[2] !== undefined ? Number(m[2]) : undefined };
    };
    if (Array.isArray(raw)) {
      for (const n of u.objects('nodes')) {
        const host = n.string('host', true);
        const port = n.integer('port', 1, 65535);
        const weight = n.integer('weight', 0, 2 ** 31 - 1, true);
        if ((n.integer('priority', -(2 ** 31), 2 ** 31 - 1) ?? 0) !== 0) n.unsupported('priority', 'node priorities (failover between groups of nodes)');
        n.ignore('metadata');
        n.finish();
        if (host !== undefined && weight !== undefined) nodes.push({ host, port: port ?? SCHEME_PORT[scheme]!, weight });
      }
    } else if (raw !== undefined) {
      const map = u.object('nodes');
      for (const key of map?.keys() ?? []) {
        const weight = map!.integer(key, 0, 2 ** 31 - 1);
        const { host, port } = splitHost(key);
        if (weight !== undefined) nodes.push({ host, port: port ?? SCHEME_PORT[scheme]!, weight });
      }
      map?.finish();
    } else u.unsupported('nodes', 'an upstream without nodes (service discovery): list its nodes');
    if (u.has('discovery_type') || u.has('service_name')) u.unsupported('discovery_type', 'service discovery: list the upstream nodes');
    const passHost = (u.string('pass_host') ?? 'pass') as Upstream['passHost'];
    if (!['pass', 'node', 'rewrite'].includes(passHost)) u.invalid('pass_host', `expected pass, node or rewrite, got ${passHost}`);
    const upstreamHost = u.string('upstream_host');
    if (passHost === 'rewrite' && upstreamHost === undefined) u.invalid('upstream_host', 'pass_host rewrite needs upstream_host');
    const timeouts = this.readTimeouts(u.object('timeout')) ?? { connect: NGINX_TIMEOUT, stream: undefined };
    if ((u.integer('retries', 0, 2 ** 31 - 1) ?? 0) > 0) u.unsupported('retries', 'retries: shadowplane makes one attempt (set retries: 0)');
    u.ignoreWithWarning('keepalive_pool', 'connection reuse is shadowplane\'s own');
    u.ignoreWithWarning('checks', 'shadowplane does not health-check; every node keeps getting traffic');
    const tls = u.object('tls');
    if (tls) {
      if (tls.boolean('verify') === true) tls.unsupported('verify', 'certificate verification');
      for (const k of ['client_cert', 'client_key', 'client_cert_id']) if (tls.has(k)) tls.unsupported(k, 'client certificates');
      tls.ignore('client_cert', 'client_key', 'client_cert_id');
      tls.finish();
    }
    u.ignore('id', 'name', 'desc', 'labels', 'create_time', 'update_time', 'hash_on', 'key', 'retry_timeout', 'discovery_type', 'service_name', 'discovery_args');
    u.finish();
    const live = nodes.filter((n) => n.weight > 0);
    if (nodes.length > 0 && live.length === 0) u.unsupported('nodes', 'every node has weight 0: nothing to forward to');
    if (passHost === 'node' && live.length > 1) u.unsupported('pass_host', 'pass_host node with several nodes (the Host would change with the node picked): use rewrite');
    const upstream: Upstream = { nodes: live, scheme, passHost, upstreamHost, timeouts, at: u.at };
    return () => (live.length > 0 ? upstream : undefined);
  }

  private readPlugins(f: Fields): PluginSet {
    const plugins = new Map<string, Fields>();
    const p = f.object('plugins');
    for (const name of p?.keys() ?? []) {
      const conf = p!.object(name);
      if (!conf) continue;
      const { enabled, meta } = pluginMeta(conf);
      if (!enabled) {
        this.ctx.problems.warn(p!.ref(name), ProblemCode.IMPORT_IGNORED, `plugin ${name} is disabled (_meta.disable) and is not applied`, true);
        conf.ignore(...conf.keys());
        continue;
      }
      if (name !== 'proxy-mirror') {
        p!.unsupported(name, `plugin ${name}: shadowplane runs proxy-mirror only`);
        conf.ignore(...conf.keys());
        continue;
      }
      readMeta(meta, name);
      plugins.set(name, conf);
    }
    p?.finish();
    return { plugins };
  }

  private readService(s: Fields): Service {
    const upstreamFields = s.object('upstream');
    const upstreamId = s.id('upstream_id');
    const upstream = upstreamFields
      ? this.upstreamReader(upstreamFields)
      : upstreamId !== undefined
        ? () => this.upstreams.get(upstreamId)?.()
        : undefined;
    const hosts = s.has('hosts') ? s.strings('hosts').map((h) => h.value.toLowerCase()) : undefined;
    const plugins = this.readPlugins(s);
    if (s.boolean('enable_websocket') === true) s.unsupported('enable_websocket', 'WebSocket upgrades');
    s.ignore('id', 'name', 'desc', 'labels', 'create_time', 'update_time');
    s.finish();
    return { upstream, plugins, hosts };
  }

  private readAdc(top: Fields): void {
    for (const s of top.objects('services')) {
      const name = s.string('name', true) ?? `service${this.routes.length}`;
      const svc = s.as(`service/${name}`);
      const routes = svc.objects('routes');
      for (const k of ['path_prefix', 'strip_path_prefix']) if (svc.has(k)) svc.unsupported(k, `${k}: write the full uris on the routes`);
      svc.ignore('routes', 'path_prefix', 'strip_path_prefix', 'description');
      const service = this.readService(svc);
      routes.forEach((r) => this.routes.push({ fields: r.as(`service/${name}/route/${r.has('name') ? String(r.raw('name')) : this.routes.length}`), order: this.routes.length, adcService: service, clusterPrefix: `adc.${safeName(name)}` }));
    }
    for (const k of top.keys()) {
      if (k !== 'services') top.unsupported(k, `${k} (shadowplane reads ADC's services and their routes)`);
    }
    top.ignore(...top.keys());
    top.finish();
  }

  /** The cluster of an upstream, with the route's own timeouts when it has them. */
  private upstreamCluster(u: Upstream, name: string, timeouts: Timeouts | undefined): string {
    const t = timeouts ?? u.timeouts;
    return this.ctx.out.cluster(name, u.at, () => {
      const out: Record<string, unknown> = {
        endpoints: u.nodes.map((n) => (u.nodes.length > 1 && n.weight !== 1 ? { address: hostPort(n.host, n.port), weight: n.weight } : hostPort(n.host, n.port))),
      };
      if (u.nodes.some((n) => isIP(n.host) === 0)) out.type = 'strict_dns';
      if (t.connect !== undefined) out.connect_timeout = t.connect;
      if (t.stream !== undefined) out.max_stream_duration = t.stream;
      // APISIX sends the upstream Host as SNI (proxy_ssl_name $upstream_host): fixed here to the name it would be.
      if (u.scheme === 'https') {
        const sni = u.upstreamHost ?? (u.nodes.length === 1 && isIP(u.nodes[0]!.host) === 0 ? u.nodes[0]!.host : undefined);
        out.tls = sni !== undefined ? { sni } : true;
      }
      return out as Omit<ClusterConfig, 'name'>;
    });
  }

  /** proxy-mirror → a mirror, or undefined after reporting what cannot be mirrored. */
  private mirror(conf: Fields): MirrorConfig | undefined {
    const host = conf.string('host', true);
    const ratio = conf.number('sample_ratio') ?? 1;
    const path = this.mirrorPath(conf);
    conf.finish();
    if (!(ratio >= 0.00001 && ratio <= 1)) conf.invalid('sample_ratio', `sample_ratio is from 0.00001 to 1, got ${ratio}`);
    if (host === undefined || path === null || !(ratio >= 0.00001 && ratio <= 1)) return undefined;
    const m = /^(https?|grpcs?):\/\/([\da-zA-Z.-]+|\[[\da-fA-F:]+\])(?::(\d+))?$/.exec(host);
    if (!m) {
      conf.invalid('host', `"${host}" is not scheme://host[:port] (http or https, no path)`);
      return undefined;
    }
    const scheme = m[1]!;
    if (scheme.startsWith('grpc')) {
      conf.unsupported('host', `a ${scheme} mirror: shadowplane mirrors HTTP`);
      return undefined;
    }
    const name = m[2]!.replace(/^\[|\]$/g, '');
    const port = m[3] !== undefined ? Number(m[3]) : SCHEME_PORT[scheme]!;
    const cluster = this.ctx.out.cluster(`proxy-mirror.${scheme}.${name.replace(/:/g, '_')}.${port}`, conf.at, () => {
      const out: Record<string, unknown> = { endpoints: [hostPort(name, port)] };
      if (isIP(name) === 0) out.type = 'strict_dns';
      if (this.mirrorTimeouts.connect !== undefined) out.connect_timeout = this.mirrorTimeouts.connect;
      if (this.mirrorTimeouts.stream !== undefined) out.max_stream_duration = this.mirrorTimeouts.stream;
      if (scheme === 'https') out.tls = isIP(name) === 0 ? { sni: name } : true;
      return out as Omit<ClusterConfig, 'name'>;
    });
    const p = percentOf(ratio * 1_000_000, 1_000_000);
    if (!p.exact) this.ctx.problems.warn(conf.ref('sample_ratio'), ProblemCode.IMPORT_APPROXIMATED, `sample_ratio ${ratio} is mirrored as ${p.percent}% (Envoy's finest share is one in a million)`);
    // APISIX sends the copy the Host the primary's upstream gets (proxy_set_header Host $upstream_host), no -shadow.
    return this.ctx.out.note({ cluster, ...(p.percent !== 100 ? { percent: p.percent } : {}), shadow_host_suffix: false, ...(path ? { path } : {}) }, conf.at);
  }

  /**
   * proxy-mirror's `path` and `path_concat_mode` → the mirror's path: `replace` (the default) sends
   * `path` plus the request's query, `prefix` sends `path` plus the request's path and query (the
   * plugin's enable_mirror). undefined: no path; null: reported.
   */
  private mirrorPath(conf: Fields): MirrorConfig['path'] | null | undefined {
    const value = conf.string('path');
    const mode = conf.string('path_concat_mode') ?? 'replace';
    const modeOk = mode === 'replace' || mode === 'prefix';
    if (!modeOk) conf.invalid('path_concat_mode', `path_concat_mode is replace or prefix, got "${mode}"`);
    // Without a path the mode changes nothing, in APISIX too (it stores the default in every plugin config).
    if (value === undefined) return modeOk ? undefined : null;
    // The plugin's own schema: a "/" and then no "?" or "&".
    if (!/^\/[^?&]+$/.test(value)) {
      conf.invalid('path', `"${value}" is not a path APISIX takes ("/" and at least one more character, no "?" or "&")`);
      return null;
    }
    if (/[#\s\\]/.test(value)) {
      conf.unsupported('path', `"${value}": a mirror path with "#", "\\" or white space`);
      return null;
    }
    return modeOk ? { value, mode } : null;
  }

  private route(r: Fields, order: number, adcService: Service | undefined, clusterPrefix: string): Entry[] {
    const errorsBefore = this.ctx.problems.errorCount;
    const id = safeName(r.id('id') ?? r.string('name') ?? String(order));
    const status = r.integer('status', 0, 1) ?? 1;
    if (status === 0) {
      this.ctx.problems.warn(r.ref('status'), ProblemCode.IMPORT_IGNORED, 'status 0: the route is disabled and is not served');
      r.ignore(...r.keys());
      return [];
    }
    const uris = r.has('uris') ? r.strings('uris').map((u) => u.value) : r.has('uri') ? [r.string('uri')!] : [];
    if (uris.length === 0) r.invalid(undefined, 'a route needs uri or uris');
    const hosts = r.has('hosts') ? r.strings('hosts').map((h) => h.value.toLowerCase()) : r.has('host') ? [r.string('host')!.toLowerCase()] : undefined;
    const methods = r.strings('methods').map((m) => m.value.toUpperCase());
    const priority = r.integer('priority', -(2 ** 31), 2 ** 31 - 1) ?? 0;
    const serviceId = r.id('service_id');
    const service = adcService ?? (serviceId !== undefined ? this.services.get(serviceId) : undefined);
    if (serviceId !== undefined && !service) this.ctx.problems.add(r.ref('service_id'), ProblemCode.IMPORT_BACKEND_NOT_FOUND, `BackendNotFound: service ${serviceId} not found`);
    const pluginConfigId = r.id('plugin_config_id');
    const pluginConfig = pluginConfigId !== undefined ? this.pluginConfigs.get(pluginConfigId) : undefined;
    if (pluginConfigId !== undefined && !pluginConfig) this.ctx.problems.add(r.ref('plugin_config_id'), ProblemCode.IMPORT_BACKEND_NOT_FOUND, `plugin_config ${pluginConfigId} not found`);
    // A route's own plugins override the plugin config's, which override the service's.
    const own = this.readPlugins(r);
    const plugins = new Map([...(service?.plugins.plugins ?? []), ...(pluginConfig?.plugins ?? []), ...own.plugins]);
    const upstreamFields = r.object('upstream');
    const upstreamId = r.id('upstream_id');
    let upstream: Upstream | undefined;
    let clusterName: string;
    if (upstreamFields) {
      upstream = this.upstreamReader(upstreamFields)();
      clusterName = `${clusterPrefix}.route.${id}`;
    } else if (upstreamId !== undefined) {
      const reader = this.upstreams.get(upstreamId);
      if (!reader) this.ctx.problems.add(r.ref('upstream_id'), ProblemCode.IMPORT_BACKEND_NOT_FOUND, `BackendNotFound: upstream ${upstreamId} not found`);
      upstream = reader?.();
      clusterName = `apisix.upstream.${upstreamId}`;
    } else {
      upstream = service?.upstream?.();
      clusterName = adcService ? clusterPrefix : `apisix.service.${serviceId ?? ''}`;
      if (!service?.upstream) r.invalid(undefined, 'a route needs an upstream (upstream, upstream_id, or a service that has one)');
    }
    const timeouts = this.readTimeouts(r.object('timeout'));
    if (timeouts) clusterName = `${clusterPrefix}.route.${id}.timeouts`;
    for (const k of ['vars', 'filter_func', 'remote_addr', 'remote_addrs', 'script', 'script_id']) {
      if (r.has(k)) r.unsupported(k, `${k}: shadowplane matches on uri, host and method`);
      r.ignore(k);
    }
    if (r.boolean('enable_websocket') === true) r.unsupported('enable_websocket', 'WebSocket upgrades');
    r.ignore('id', 'name', 'desc', 'description', 'labels', 'create_time', 'update_time', 'uri', 'uris', 'host', 'hosts');
    r.finish();
    const mirrorConf = plugins.get('proxy-mirror');
    const mirror = mirrorConf && this.mirror(mirrorConf);
    if (this.ctx.problems.errorCount > errorsBefore || !upstream) return [];
    const cluster = this.upstreamCluster(upstream, clusterName, timeouts);
    const base: Omit<RouteConfig, 'name' | 'match'> = { cluster, timeout: '0s' } as Omit<RouteConfig, 'name' | 'match'>;
    if (upstream.passHost === 'rewrite') base.host_rewrite = upstream.upstreamHost!;
    else if (upstream.passHost === 'node') {
      const n = upstream.nodes[0]!;
      base.host_rewrite = n.port === SCHEME_PORT[upstream.scheme] ? n.host : `${n.host}:${n.port}`;
    }
    if (mirror) base.mirrors = [mirror];
    return uris.flatMap((uri, j): Entry[] => {
      const star = uri.indexOf('*');
      if (star >= 0 && star !== uri.length - 1) {
        this.ctx.problems.add(r.ref(r.has('uris') ? 'uris' : 'uri'), ProblemCode.IMPORT_UNSUPPORTED, `uri "${uri}": "*" only at the end (a prefix)`);
        return [];
      }
      const prefix = star >= 0 ? uri.slice(0, -1) : undefined;
      const match: RouteConfig['match'] = (prefix !== undefined ? { prefix: prefix === '' ? '/' : prefix } : { path: uri }) as RouteConfig['match'];
      if (methods.length > 0) match.methods = methods;
      const route = this.ctx.out.note({ name: `apisix.${id}.uri${j}`, match, ...structuredClone(base) } as RouteConfig, r.at);
      if (route.mirrors && mirror) this.ctx.out.note(route.mirrors[0]!, this.ctx.out.origin(mirror) ?? r.at);
      return [{ route, hosts: hosts ?? service?.hosts ?? [], exact: prefix === undefined, length: (prefix ?? uri).length, priority, order }];
    });
  }

  build(): void {
    if (this.routes.length === 0) return;
    const entries = this.routes.flatMap((r) => this.route(r.fields, r.order, r.adcService, r.clusterPrefix));
    // radixtree: a full path before any prefix, the longest prefix first, then the higher priority, then the order written.
    const ordered = entries.sort((a, b) => Number(b.exact) - Number(a.exact) || b.length - a.length || b.priority - a.priority || a.order - b.order);
    const byHost = new Map<string, RouteConfig[]>();
    for (const e of ordered) for (const h of e.hosts.length > 0 ? e.hosts : ['*']) byHost.set(h, [...(byHost.get(h) ?? []), e.route]);
    const virtualHosts = assembleVirtualHosts([...byHost].map(([hostname, routes]) => ({ hostname, routes })), true);
    if (virtualHosts.length === 0) return;
    const listens = this.listens;
    if (this.ctx.listen.port !== undefined || !listens) {
      // --listen-address IP:PORT moves the routes to one listener there, whatever node_listen says.
      if (this.ctx.listen.port !== undefined && listens && listens.length > 1) {
        this.ctx.problems.warn(
          listens[0]!.at,
          ProblemCode.IMPORT_APPROXIMATED,
          `--listen-address ${listenerAddress(this.ctx.listen.host, this.ctx.listen.port)} replaces node_listen's ${listens.length} listeners: the routes are served there only`,
        );
      }
      const port = this.ctx.listen.port ?? APISIX_DEFAULT_PORT;
      this.ctx.out.listeners.push(this.ctx.out.note({ name: 'apisix', address: listenerAddress(this.ctx.listen.host, port), virtual_hosts: virtualHosts }, this.first!));
      return;
    }
    // One listener per node_listen entry, every route on each, as APISIX serves them. One entry keeps
    // the name "apisix"; several are told apart by port (and by IP where a port is listed twice).
    const shared = (port: number): boolean => listens.filter((l) => l.port === port).length > 1;
    for (const l of listens) {
      const host = l.host ?? this.ctx.listen.host;
      const name = listens.length === 1 ? 'apisix' : shared(l.port) ? `apisix.${host.replace(/[^A-Za-z0-9]/g, '_')}.${l.port}` : `apisix.${l.port}`;
      this.ctx.out.listeners.push(this.ctx.out.note({ name, address: listenerAddress(host, l.port), virtual_hosts: virtualHosts }, listens.length === 1 ? this.first! : l.at));
    }
  }
}
