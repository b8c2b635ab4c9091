// Istio's networking API (networking.istio.io v1, v1beta1, v1alpha3): Gateways' HTTP servers,
// VirtualServices (matches, weighted destinations, mirror / mirrorPercentage and mirrors[],
// rewrites, header changes, timeouts), DestinationRules (subsets by labels, TLS origination,
// connection limits) and ServiceEntries (hosts outside Kubernetes, STATIC or DNS). Istio's own
// defaults where they differ from Envoy's: no route timeout, mirrors at 100% unless a percentage is
// given, DNS clusters on IPv4 (README: "Istio").
// https://istio.io/latest/docs/reference/config/networking/virtual-service/
import { isIP } from 'node:net';
import { ProblemCode } from '../problems.js';
import type { ClusterConfig, HeaderMatchConfig, MirrorConfig, QueryParameterMatchConfig, RouteConfig, VirtualHostConfig } from '../schema.js';
import { listenerAddress, type ImportContext } from './context.js';
import { child, type Dialect, type Fields } from './fields.js';
import { hostPort, reportAppProtocolConflicts, type BackendEndpoint, type KubeObject, type Located } from './kubernetes.js';
import type { SourceRef } from './source.js';
import { compareStrings, formatDuration, parseDurationMs, percentOf } from './values.js';
import { covers, domainsFor, virtualHostName } from './virtual-hosts.js';

export const ISTIO_GROUP = 'networking.istio.io';
const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
export const ISTIO: Dialect = { importer: "shadowplane's Istio import", unsupportedReason: '' };

/** Kubernetes Services as Istio names them. */
const CLUSTER_DOMAIN = 'svc.cluster.local';
/** Istio routes have no timeout unless one is given (Envoy's default is 15 s). */
const ISTIO_ROUTE_TIMEOUT = '0s';

interface TlsPolicy {
  readonly sni: string | undefined;
}

/** What shadowplane takes from a connectionPool block. */
interface Pool {
  readonly connectTimeout?: string;
  readonly maxConnections?: number;
  readonly maxPendingRequests?: number;
  readonly maxRequests?: number;
  readonly maxRetries?: number;
}

/**
 * What shadowplane takes from a DestinationRule's traffic policy. Each block (tls, connectionPool) is
 * undefined when it is not written; it is inherited or replaced whole, as Istio merges them
 * (mergedTrafficPolicy).
 */
interface Policy {
  /** null: TLS explicitly off (mode DISABLE). */
  readonly tls?: TlsPolicy | null;
  readonly pool?: Pool;
  readonly ports?: ReadonlyMap<number, Policy>;
}

interface Subset {
  readonly labels: Readonly<Record<string, string>>;
  readonly policy: Policy;
}

interface DestinationRule {
  readonly policy: Policy;
  readonly subsets: ReadonlyMap<string, Subset>;
  readonly at: SourceRef;
}

interface EntryEndpoint {
  readonly address: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number | undefined;
}

interface ServiceEntry {
  readonly hosts: readonly string[];
  readonly ports: ReadonlyArray<{
    readonly number: number;
    readonly name: string;
    readonly targetPort: number | undefined;
    /** Lower case; undefined when not written (Istio detects it; shadowplane sends HTTP/1.1). */
    readonly protocol: Located | undefined;
  }>;
  readonly resolution: string;
  readonly endpoints: readonly EntryEndpoint[];
  readonly at: SourceRef;
}

interface Server {
  readonly gateway: string;
  readonly namespace: string;
  readonly port: number;
  readonly bind: string | undefined;
  /** `namespace/host`: which VirtualServices may bind (namespace `*` any, `.` the Gateway's own). */
  readonly hosts: ReadonlyArray<{ readonly namespace: string; readonly host: string }>;
  readonly at: SourceRef;
}

/** A destination resolved to what can be sent to. */
type Destination =
  | { readonly kind: 'kube'; readonly fqdn: string; readonly namespace: string; readonly name: string; readonly ports: readonly number[] }
  | { readonly kind: 'entry'; readonly fqdn: string; readonly entry: ServiceEntry };

/** One Envoy route from one match of one http rule, with the match conditions that pick listeners. */
interface Rule {
  readonly route: RouteConfig;
  /** The match's `port`: only listeners (or service ports) on it. */
  readonly port: number | undefined;
  /** The match's `gateways`, overriding the VirtualService's. */
  readonly gateways: readonly string[] | undefined;
}

/** A mirror as Istio writes its policy: unsampled for tracing (seed 003's dump shows trace_sampled: false). */
function istioMirror(cluster: string, percent: number | undefined): MirrorConfig {
  return { cluster, ...(percent !== undefined && percent !== 100 ? { percent } : {}), trace_sampled: false };
}

/**
 * A policy for one port: its portLevelSettings entry when it has one, which replaces every block
 * (a block it does not write is Istio's default, not the policy's: "will not be inherited when
 * overridden by port-level settings"), else the policy itself.
 */
function atPort(p: Policy | undefined, port: number): { policy: Policy | undefined; portLevel: boolean } {
  const pl = p?.ports?.get(port);
  return pl ? { policy: { tls: pl.tls, pool: pl.pool }, portLevel: true } : { policy: p, portLevel: false };
}

/**
 * The policy a cluster gets, as Istio's MergeSubsetTrafficPolicy builds it: the rule's (at the
 * port), each block the subset writes (at the port) replacing the rule's whole; a subset's
 * port-level entry replaces every block. Blocks are never merged field by field.
 */
function mergePolicies(rule: Policy | undefined, subset: Policy | undefined, port: number): Policy {
  const base = atPort(rule, port).policy ?? {};
  const over = atPort(subset, port);
  if (!over.policy) return base;
  const pick = <K extends 'tls' | 'pool'>(k: K): Policy[K] => (over.policy![k] !== undefined || over.portLevel ? over.policy![k] : base[k]);
  return { tls: pick('tls'), pool: pick('pool') };
}

/** Istio's protocol names (protocol.Parse, case-insensitive). */
const ISTIO_PROTOCOLS = ['http', 'http2', 'https', 'tcp', 'tls', 'grpc', 'grpc-web', 'mongo', 'mysql', 'redis', 'udp', 'http_proxy'];
/** Protocols Istio forwards as HTTP/2 (prior knowledge). */
const HTTP2_PROTOCOLS = ['http2', 'grpc', 'grpc-web'];
/** Protocols that carry HTTP as far as shadowplane is concerned: https and tls go as the DestinationRule's tls says. */
const HTTP_PROTOCOLS = ['http', ...HTTP2_PROTOCOLS, 'https', 'tls'];

/**
 * A Service port's protocol as Istio selects it (kube.ConvertProtocol): its appProtocol if set (with
 * Kubernetes' kubernetes.io/h2c, ws and wss), else the prefix of its name before the first "-"
 * (`grpc-web` whole); undefined when neither names a protocol (Istio then detects it; shadowplane
 * sends HTTP/1.1).
 */
function serviceProtocol(name: string, appProtocol: string | undefined): string | undefined {
  if (appProtocol !== undefined) {
    const wellKnown: Record<string, string> = { 'kubernetes.io/h2c': 'http2', 'kubernetes.io/ws': 'http', 'kubernetes.io/wss': 'https' };
    if (wellKnown[appProtocol] !== undefined) return wellKnown[appProtocol];
  }
  const text = (appProtocol ?? name).toLowerCase();
  if (text.startsWith('grpc-web')) return 'grpc-web';
  const prefix = text.split('-')[0]!;
  return ISTIO_PROTOCOLS.includes(prefix) ? prefix : undefined;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

export class IstioImport {
  private readonly servers: Server[] = [];
  private readonly gatewayNames = new Set<string>();
  private readonly virtualServices: KubeObject[] = [];
  private readonly rules = new Map<string, DestinationRule>();
  private readonly entries: ServiceEntry[] = [];
  private readonly seen = new Set<string>();
  /** Fields already reported on (a port's protocol, an EndpointSlice's appProtocol) when many clusters use them. */
  private readonly reported = new Set<object>();

  constructor(private readonly ctx: ImportContext) {}

  read(o: KubeObject): boolean {
    if (o.group !== ISTIO_GROUP) return false;
    const handlers: Record<string, ((x: KubeObject) => void) | undefined> = {
      Gateway: (x) => this.readGateway(x),
      VirtualService: (x) => this.virtualServices.push(x),
      DestinationRule: (x) => this.readDestinationRule(x),
      ServiceEntry: (x) => this.readServiceEntry(x),
    };
    const h = handlers[o.kind];
    if (!h) return false;
    if (!ISTIO_VERSIONS.includes(o.version)) {
      o.fields.unsupported('apiVersion', `${o.apiVersion}: shadowplane reads ${ISTIO_VERSIONS.map((v) => `${ISTIO_GROUP}/${v}`).join(', ')}`);
      return true;
    }
    const key = `${o.kind}/${o.namespace}/${o.name}`;
    if (this.seen.has(key)) {
      this.ctx.problems.add(o.fields.at, ProblemCode.IMPORT_DUPLICATE, `${o.kind} ${o.namespace}/${o.name} is defined twice`);
      return true;
    }
    this.seen.add(key);
    h(o);
    return true;
  }

  /** A host as Istio reads it in a namespace: a short name is a Service of that namespace. */
  private fqdn(host: string, namespace: string): string {
    return host.includes('.') || host.includes('*') ? host.toLowerCase() : `${host.toLowerCase()}.${namespace}.${CLUSTER_DOMAIN}`;
  }

  private readGateway(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    // The selector picks the gateway's pods: here shadowplane's listeners are the gateway.
    spec.ignore('selector');
    this.gatewayNames.add(`${o.namespace}/${o.name}`);
    for (const s of spec.objects('servers', true)) {
      const port = s.object('port', true);
      const number = port?.integer('number', 1, 65535, true);
      const protocol = port?.string('protocol', true)?.toUpperCase();
      port?.ignore('name', 'targetPort'); // targetPort is the gateway pod's port; clients reach `number`
      port?.finish();
      if (protocol !== undefined && protocol !== 'HTTP' && protocol !== 'HTTP2') port?.unsupported('protocol', `server protocol ${protocol}: shadowplane serves plain HTTP`);
      if (s.has('tls')) s.unsupported('tls', 'TLS on a server: shadowplane serves plain HTTP');
      if (s.has('defaultEndpoint')) s.unsupported('defaultEndpoint', 'defaultEndpoint (sidecar ingress)');
      const bind = s.string('bind');
      if (bind !== undefined && isIP(bind) === 0) s.unsupported('bind', `bind ${bind}: only an IP address`);
      s.ignore('name', 'tls', 'defaultEndpoint');
      const hosts = s.strings('hosts', true).map((h) => {
        const slash = h.value.indexOf('/');
        const ns = slash < 0 ? '*' : h.value.slice(0, slash);
        return { namespace: ns === '.' ? o.namespace : ns, host: (slash < 0 ? h.value : h.value.slice(slash + 1)).toLowerCase() };
      });
      s.finish();
      if (number !== undefined) this.servers.push({ gateway: `${o.namespace}/${o.name}`, namespace: o.namespace, port: number, bind, hosts, at: s.at });
    }
    spec.finish();
  }

  private readPolicy(f: Fields, allowPorts: boolean): Policy {
    const out: { -readonly [K in keyof Policy]: Policy[K] } = {};
    const tls = f.object('tls');
    if (tls) {
      const mode = tls.string('mode') ?? 'DISABLE';
      if (mode === 'DISABLE') out.tls = null;
      else if (mode === 'SIMPLE') {
        out.tls = { sni: tls.string('sni') };
        if (tls.boolean('insecureSkipVerify') !== true) {
          this.ctx.problems.warn(
            tls.ref('mode'),
            ProblemCode.IMPORT_APPROXIMATED,
            "TLS SIMPLE: shadowplane does not verify the server's certificate (Istio checks it against the system's CAs); set insecureSkipVerify: true to say that is intended",
          );
        }
      } else tls.unsupported('mode', `TLS mode ${mode}: shadowplane originates TLS without client certificates (SIMPLE) or not at all`);
      for (const k of ['caCertificates', 'clientCertificate', 'privateKey', 'credentialName', 'subjectAltNames', 'caCrl']) {
        if (tls.has(k)) tls.unsupported(k, `${k}: shadowplane neither verifies server certificates nor presents client ones`);
        tls.ignore(k);
      }
      tls.ignore('sni', 'insecureSkipVerify');
      tls.finish();
    }
    const pool = f.object('connectionPool');
    if (pool) {
      const p: { -readonly [K in keyof Pool]: Pool[K] } = {};
      const tcp = pool.object('tcp');
      if (tcp) {
        const ct = tcp.string('connectTimeout');
        if (ct !== undefined) {
          const ms = parseDurationMs(ct);
          if (ms === undefined) tcp.invalid('connectTimeout', `"${ct}" is not a duration`);
          else p.connectTimeout = formatDuration(ms);
        }
        p.maxConnections = tcp.integer('maxConnections', 1, 2 ** 31 - 1);
        tcp.finish();
      }
      const http = pool.object('http');
      if (http) {
        p.maxPendingRequests = http.integer('http1MaxPendingRequests', 1, 2 ** 31 - 1);
        p.maxRequests = http.integer('http2MaxRequests', 1, 2 ** 31 - 1);
        p.maxRetries = http.integer('maxRetries', 0, 2 ** 31 - 1);
        http.finish();
      }
      pool.finish();
      out.pool = p;
    }
    const lb = f.object('loadBalancer');
    if (lb) {
      const simple = lb.string('simple');
      if (simple !== undefined && simple !== 'ROUND_ROBIN') {
        this.ctx.problems.warn(lb.ref('simple'), ProblemCode.IMPORT_APPROXIMATED, `load balancer ${simple}: shadowplane balances round robin`);
      }
      lb.finish();
    }
    f.ignoreWithWarning('outlierDetection', 'shadowplane does not eject hosts; every endpoint keeps getting traffic');
    if (allowPorts) {
      const ports = new Map<number, Policy>();
      for (const p of f.objects('portLevelSettings')) {
        const port = p.object('port', true);
        const number = port?.integer('number', 1, 65535, true);
        port?.finish();
        const policy = this.readPolicy(p, false);
        if (number !== undefined) ports.set(number, policy);
      }
      out.ports = ports;
    }
    if (!allowPorts) f.ignore('port');
    f.finish();
    return out;
  }

  private readDestinationRule(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    const host = spec.string('host', true);
    const tp = spec.object('trafficPolicy');
    const policy = tp ? this.readPolicy(tp, true) : {};
    const subsets = new Map<string, Subset>();
    for (const s of spec.objects('subsets')) {
      const name = s.string('name', true);
      const labels = s.stringMap('labels');
      const stp = s.object('trafficPolicy');
      const sp = stp ? this.readPolicy(stp, true) : {};
      s.finish();
      if (name !== undefined) subsets.set(name, { labels, policy: sp });
    }
    spec.ignoreWithWarning('exportTo', 'shadowplane serves one config; every rule is visible to every route');
    if (spec.has('workloadSelector')) spec.unsupported('workloadSelector', 'a DestinationRule for some workloads only');
    spec.ignore('workloadSelector');
    spec.finish();
    if (host === undefined) return;
    if (host.includes('*')) {
      spec.unsupported('host', `a wildcard host (${host}): name the host`);
      return;
    }
    const fqdn = this.fqdn(host, o.namespace);
    if (this.rules.has(fqdn)) {
      this.ctx.problems.add(spec.ref('host'), ProblemCode.IMPORT_DUPLICATE, `a second DestinationRule for host ${fqdn}`);
      return;
    }
    this.rules.set(fqdn, { policy, subsets, at: spec.at });
  }

  private readServiceEntry(o: KubeObject): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    const hosts = spec.strings('hosts', true).map((h) => h.value.toLowerCase());
    const ports = spec.objects('ports', true).flatMap((p) => {
      const number = p.integer('number', 1, 65535, true);
      const name = p.string('name', true) ?? '';
      const targetPort = p.integer('targetPort', 1, 65535);
      const written = p.string('protocol');
      // A ServiceEntry port's protocol is its protocol field alone (Istio's convertPort): the name is not read for it.
      let protocol: Located | undefined = written === undefined ? undefined : { value: written.toLowerCase(), at: p.ref('protocol') };
      if (protocol && !ISTIO_PROTOCOLS.includes(protocol.value)) {
        p.invalid('protocol', `unrecognized protocol name ${written} (Istio's validation refuses it; expected one of ${ISTIO_PROTOCOLS.map((x) => x.toUpperCase()).join(', ')})`);
        protocol = undefined;
      }
      p.finish();
      return number === undefined ? [] : [{ number, name, targetPort, protocol }];
    });
    const resolution = spec.string('resolution') ?? 'NONE';
    if (!['STATIC', 'DNS', 'DNS_ROUND_ROBIN'].includes(resolution)) {
      spec.unsupported('resolution', `resolution ${resolution}: shadowplane needs addresses (STATIC) or names to resolve (DNS, DNS_ROUND_ROBIN)`);
    }
    const endpoints = spec.objects('endpoints').flatMap((e): EntryEndpoint[] => {
      const address = e.string('address', true);
      const ports = e.object('ports');
      const portMap: Record<string, number> = {};
      for (const k of ports?.keys() ?? []) {
        const n = ports!.integer(k, 1, 65535);
        if (n !== undefined) portMap[k] = n;
      }
      ports?.finish();
      const labels = e.stringMap('labels');
      const weight = e.integer('weight', 1, 2 ** 31 - 1);
      for (const k of ['network', 'locality', 'serviceAccount']) e.ignoreWithWarning(k, 'shadowplane sends to every endpoint alike, in one network');
      e.finish();
      if (address?.startsWith('unix://')) e.unsupported('address', 'a Unix socket endpoint: shadowplane reaches endpoints over TCP');
      if (address !== undefined && resolution === 'STATIC' && isIP(address) === 0) e.invalid('address', `resolution STATIC needs IP addresses, not "${address}" (use resolution DNS)`);
      return address === undefined || address.startsWith('unix://') ? [] : [{ address, ports: portMap, labels, weight }];
    });
    if (spec.has('workloadSelector')) spec.unsupported('workloadSelector', 'endpoints chosen by workload labels: list them in endpoints');
    if (spec.strings('subjectAltNames').length > 0) spec.unsupported('subjectAltNames', 'subjectAltNames: shadowplane does not verify server certificates');
    spec.ignoreWithWarning('addresses', 'clients reach shadowplane by Host, not by these virtual IPs');
    spec.ignoreWithWarning('exportTo', 'shadowplane serves one config; every entry is visible to every route');
    spec.ignore('location', 'workloadSelector'); // MESH_EXTERNAL / MESH_INTERNAL: telemetry and mTLS, neither of which shadowplane does
    spec.finish();
    if (resolution === 'STATIC' && endpoints.length === 0) spec.invalid('endpoints', 'resolution STATIC needs endpoints');
    this.entries.push({ hosts, ports, resolution, endpoints, at: spec.at });
  }

  private lookup(fqdn: string): Destination | undefined {
    const entry = this.entries.find((e) => e.hosts.includes(fqdn));
    if (entry) return { kind: 'entry', fqdn, entry };
    const m = new RegExp(`^([^.]+)\\.([^.]+)\\.${escapeRegex(CLUSTER_DOMAIN)}$`).exec(fqdn);
    const svc = m && this.ctx.services.service(m[2]!, m[1]!);
    return svc ? { kind: 'kube', fqdn, namespace: svc.namespace, name: svc.name, ports: svc.ports.map((p) => p.port) } : undefined;
  }

  private portsOf(d: Destination): number[] {
    return d.kind === 'kube' ? [...d.ports] : d.entry.ports.map((p) => p.number);
  }

  /** Endpoints of a ServiceEntry host on a port; undefined (with a reason) when it has none. */
  private entryEndpoints(d: Extract<Destination, { kind: 'entry' }>, port: number): { endpoints: BackendEndpoint[]; dns: 'strict' | 'logical' | undefined } | string {
    const sePort = d.entry.ports.find((p) => p.number === port)!;
    const target = (e: EntryEndpoint | undefined): number => (e && e.ports[sePort.name]) ?? sePort.targetPort ?? port;
    const dns = d.entry.resolution === 'DNS' ? 'strict' : d.entry.resolution === 'DNS_ROUND_ROBIN' ? 'logical' : undefined;
    if (d.entry.endpoints.length === 0) {
      if (dns === undefined) return `ServiceEntry host ${d.fqdn} has no endpoints`;
      if (d.fqdn.includes('*')) return `ServiceEntry host ${d.fqdn} is a wildcard: with resolution DNS and no endpoints there is no name to resolve`;
      return { endpoints: [{ host: d.fqdn, port: target(undefined), labels: {} }], dns };
    }
    if (dns === 'logical' && d.entry.endpoints.length > 1) return `resolution DNS_ROUND_ROBIN takes one endpoint; ServiceEntry host ${d.fqdn} has ${d.entry.endpoints.length}`;
    return { endpoints: d.entry.endpoints.map((e) => ({ host: e.address, port: target(e), labels: e.labels })), dns };
  }

  /** Reads a Destination (host, port, subset) and returns its cluster; undefined after reporting what does not resolve. */
  private cluster(dest: Fields, namespace: string): string | undefined {
    const host = dest.string('host', true);
    const portSel = dest.object('port');
    const port = portSel?.integer('number', 1, 65535);
    portSel?.finish();
    const subset = dest.string('subset');
    dest.finish();
    if (host === undefined) return undefined;
    const r = this.resolve(this.fqdn(host, namespace), port, subset, dest.at);
    if (typeof r === 'string') {
      this.ctx.problems.add(dest.at, ProblemCode.IMPORT_BACKEND_NOT_FOUND, `BackendNotFound: ${r}`);
      return undefined;
    }
    return r.cluster;
  }

  /**
   * The cluster for host `fqdn` on `portNumber` (its only port when undefined), narrowed to a
   * DestinationRule subset, created on first use; or why there is none (Istio would drop the traffic).
   */
  private resolve(fqdn: string, portNumber: number | undefined, subsetName: string | undefined, at: SourceRef, defaultRoute = false): { cluster: string } | string {
    const d = this.lookup(fqdn);
    if (!d) return `host ${fqdn} is neither a Kubernetes Service nor a ServiceEntry host`;
    const ports = this.portsOf(d);
    const port = portNumber ?? (ports.length === 1 ? ports[0] : undefined);
    if (port === undefined) return `host ${fqdn} has several ports (${ports.join(', ')}): name one in port.number`;
    if (!ports.includes(port)) return `host ${fqdn} has no port ${port} (it has ${ports.join(', ')})`;
    const rule = this.rules.get(fqdn);
    const subset = subsetName === undefined ? undefined : rule?.subsets.get(subsetName);
    if (subsetName !== undefined && !subset) return `subset "${subsetName}" is not defined by a DestinationRule for host ${fqdn}`;
    let endpoints: BackendEndpoint[];
    let dns: 'strict' | 'logical' | undefined;
    // The port's protocol, as Istio selects it, and where it is written.
    let protocol: { value: string; at: SourceRef; what: string } | undefined;
    if (d.kind === 'kube') {
      const found = this.ctx.services.lookup(d.namespace, d.name, port);
      if (!found.ok) return found.reason;
      endpoints = [...found.endpoints];
      dns = found.dns ? 'strict' : undefined;
      reportAppProtocolConflicts(found, this.ctx.problems, this.reported);
      const ap = found.appProtocol;
      const value = serviceProtocol(found.port.name, ap?.value);
      if (value !== undefined) {
        protocol = ap ? { value, at: ap.at, what: `appProtocol ${ap.value}` } : { value, at: found.port.nameAt ?? found.service.at, what: `the port name "${found.port.name}"` };
      }
    } else {
      const found = this.entryEndpoints(d, port);
      if (typeof found === 'string') return found;
      ({ endpoints, dns } = found);
      const sp = d.entry.ports.find((p) => p.number === port)!.protocol;
      if (sp) protocol = { value: sp.value, at: sp.at, what: `protocol ${sp.value.toUpperCase()}` };
    }
    if (protocol && !HTTP_PROTOCOLS.includes(protocol.value)) {
      const why = `${protocol.what} makes port ${port} of ${fqdn} a ${protocol.value.toUpperCase()} port, which Istio does not route as HTTP (Istio's protocol selection); shadowplane routes and mirrors HTTP`;
      if (defaultRoute) return why;
      if (!this.reported.has(protocol.at)) {
        this.reported.add(protocol.at);
        this.ctx.problems.add(protocol.at, ProblemCode.IMPORT_UNSUPPORTED, why, true);
      }
    }
    // http2, grpc and grpc-web go to the backend as HTTP/2 with prior knowledge (Istio's "Plaintext HTTP/2 traffic").
    const http2 = protocol !== undefined && HTTP2_PROTOCOLS.includes(protocol.value);
    if (subset) {
      endpoints = endpoints.filter((e) => Object.entries(subset.labels).every(([k, v]) => e.labels[k] === v));
      if (endpoints.length === 0) {
        const labels = Object.entries(subset.labels).map(([k, v]) => `${k}=${v}`).join(',');
        return `subset "${subsetName}" (${labels}) of host ${fqdn} selects no ready endpoint`;
      }
    }
    const policy = mergePolicies(rule?.policy, subset?.policy, port);
    const pool = policy.pool ?? {};
    const name = `outbound_${port}_${subsetName ?? ''}_${fqdn}`;
    const weightOf = (e: BackendEndpoint): number | undefined => (d.kind === 'entry' ? d.entry.endpoints.find((x) => x.address === e.host)?.weight : undefined);
    const cluster = this.ctx.out.cluster(name, rule && (subset || rule.policy.tls !== undefined) ? rule.at : d.kind === 'entry' ? d.entry.at : at, () => {
      const out: Record<string, unknown> = {
        endpoints: endpoints.map((e) => {
          const w = weightOf(e);
          return w === undefined ? hostPort(e.host, e.port) : { address: hostPort(e.host, e.port), weight: w };
        }),
      };
      if (dns === 'strict') out.type = 'strict_dns';
      if (dns === 'logical') out.type = 'logical_dns';
      // Istio resolves names on IPv4 (V4_ONLY) on an IPv4 proxy.
      if (dns !== undefined) out.dns_lookup_family = 'v4_only';
      if (http2) out.http2 = true;
      if (pool.connectTimeout !== undefined) out.connect_timeout = pool.connectTimeout;
      // TLS SIMPLE without an sni: Istio sets it from each request's Host; a mirrored copy's Host ends
      // in -shadow, which no certificate names, so the destination's host is sent instead.
      if (policy.tls) out.tls = { sni: policy.tls.sni ?? fqdn };
      const cb = { max_connections: pool.maxConnections, max_pending_requests: pool.maxPendingRequests, max_requests: pool.maxRequests, max_retries: pool.maxRetries };
      if (Object.values(cb).some((v) => v !== undefined)) out.circuit_breakers = Object.fromEntries(Object.entries(cb).filter(([, v]) => v !== undefined));
      return out as Omit<ClusterConfig, 'name'>;
    });
    return { cluster };
  }

  private stringMatch(f: Fields): { exact?: string; prefix?: string; regex?: string } | undefined {
    const exact = f.string('exact');
    const prefix = f.string('prefix');
    const regex = f.string('regex');
    f.finish();
    const set = [exact, prefix, regex].filter((x) => x !== undefined).length;
    if (set > 1) {
      f.invalid(undefined, 'needs one of exact, prefix or regex');
      return undefined;
    }
    return exact !== undefined ? { exact } : prefix !== undefined ? { prefix } : regex !== undefined ? { regex } : {};
  }

  private match(m: Fields | undefined): { match: RouteConfig['match']; port: number | undefined; gateways: string[] | undefined; uri: 'exact' | 'prefix' | 'regex' | undefined } {
    const match = {} as RouteConfig['match'];
    let uri: 'exact' | 'prefix' | 'regex' | undefined;
    const u = m?.object('uri');
    const um = u && this.stringMatch(u);
    if (um?.exact !== undefined) [match.path, uri] = [um.exact, 'exact'];
    else if (um?.prefix !== undefined) [match.prefix, uri] = [um.prefix, 'prefix'];
    else if (um?.regex !== undefined) [match.regex, uri] = [um.regex, 'regex'];
    else match.prefix = '/';
    if (m?.boolean('ignoreUriCase') === true) match.case_sensitive = false;
    const headers: HeaderMatchConfig[] = [];
    const hf = m?.object('headers');
    for (const name of hf?.keys() ?? []) {
      const lower = name.toLowerCase();
      if (['uri', 'scheme', 'method', 'authority'].includes(lower)) {
        hf!.ignore(name);
        this.ctx.problems.warn(hf!.ref(name), ProblemCode.IMPORT_IGNORED, `the header key "${name}" is ignored, as Istio ignores it (match ${lower} with its own field)`, true);
        continue;
      }
      const sm = hf!.object(name);
      const v = sm && this.stringMatch(sm);
      if (!v) continue;
      // An empty match ({}) asks only that the header be present.
      headers.push(v.exact !== undefined || v.prefix !== undefined || v.regex !== undefined ? ({ name: lower, ...v } as HeaderMatchConfig) : { name: lower, present: true });
    }
    hf?.finish();
    const method = m?.object('method');
    const mm = method && this.stringMatch(method);
    if (mm?.exact !== undefined) match.methods = [mm.exact];
    else if (mm?.prefix !== undefined || mm?.regex !== undefined) headers.push({ name: ':method', ...mm } as HeaderMatchConfig);
    const query: QueryParameterMatchConfig[] = [];
    const qf = m?.object('queryParams');
    for (const name of qf?.keys() ?? []) {
      const sm = qf!.object(name);
      const v = sm && this.stringMatch(sm);
      if (v) query.push(v.exact !== undefined || v.prefix !== undefined || v.regex !== undefined ? ({ name, ...v } as QueryParameterMatchConfig) : { name, present: true });
    }
    qf?.finish();
    const port = m?.integer('port', 1, 65535);
    const gateways = m?.has('gateways') ? m.strings('gateways').map((g) => g.value) : undefined;
    for (const k of ['authority', 'scheme', 'sourceLabels', 'sourceNamespace', 'withoutHeaders']) {
      if (m?.has(k)) m.unsupported(k, `match on ${k}`);
      m?.ignore(k);
    }
    m?.ignore('name', 'statPrefix');
    m?.finish();
    if (headers.length > 0) match.headers = headers;
    if (query.length > 0) match.query_parameters = query;
    return { match, port, gateways, uri };
  }

  private percent(f: Fields, key: string): number | undefined {
    const p = f.object(key);
    const value = p?.number('value');
    p?.finish();
    if (value === undefined) return undefined;
    if (!(value >= 0 && value <= 100)) {
      p!.invalid('value', `a percentage from 0 to 100, got ${value}`);
      return undefined;
    }
    const r = percentOf(value, 100);
    if (!r.exact) this.ctx.problems.warn(p!.ref('value'), ProblemCode.IMPORT_APPROXIMATED, `${value}% is mirrored as ${r.percent}% (Envoy's finest share is one in a million)`);
    return r.percent;
  }

  /** One VirtualService's http rules as Envoy routes; problems reported once, whatever it binds to. */
  private httpRules(vs: KubeObject, spec: Fields): Rule[] {
    const rules: Rule[] = [];
    spec.objects('http').forEach((h, i) => {
      const errorsBefore = this.ctx.problems.errorCount;
      const ruleName = h.string('name') ?? `http${i}`;
      const base = {} as Omit<RouteConfig, 'name' | 'match'>;
      const split: Array<{ cluster: string; weight: number }> = [];
      const dests = h.objects('route');
      for (const r of dests) {
        const d = r.object('destination', true);
        const weight = r.integer('weight', 0, 2 ** 31 - 1);
        if (r.has('headers')) r.unsupported('headers', 'header changes per destination: put them on the http rule');
        r.ignore('headers');
        r.finish();
        const cluster = d && this.cluster(d, vs.namespace);
        // A lone destination takes every request whatever its weight; otherwise 0 takes none.
        const w = dests.length === 1 ? 1 : (weight ?? 0);
        if (cluster !== undefined && w > 0) split.push({ cluster, weight: w });
      }
      if (dests.length === 0) h.unsupported(undefined, 'an http rule without route destinations (redirect, direct response, delegate): shadowplane forwards');
      const mirrors: MirrorConfig[] = [];
      const mirror = h.object('mirror');
      if (mirror) {
        const cluster = this.cluster(mirror, vs.namespace);
        // mirrorPercentage absent: all the traffic (Istio), the deprecated integer mirrorPercent otherwise.
        const pct = this.percent(h, 'mirrorPercentage') ?? h.integer('mirrorPercent', 0, 100);
        if (cluster !== undefined) mirrors.push(this.ctx.out.note(istioMirror(cluster, pct), mirror.at));
      } else if (h.has('mirrorPercentage') || h.has('mirrorPercent')) {
        h.invalid('mirrorPercentage', 'mirrorPercentage without mirror');
      }
      h.ignore('mirrorPercentage', 'mirrorPercent');
      const mirrorList = h.objects('mirrors');
      // Istio's validation (validateHTTPRoute) refuses the two together.
      if (mirror && mirrorList.length > 0) h.invalid('mirrors', 'HTTP route cannot contain both mirror and mirrors (Istio refuses it): give every copy in mirrors[]');
      for (const m of mirrorList) {
        const d = m.object('destination', true);
        const cluster = d && this.cluster(d, vs.namespace);
        const pct = this.percent(m, 'percentage');
        m.finish();
        if (cluster !== undefined) mirrors.push(this.ctx.out.note(istioMirror(cluster, pct), m.at));
      }
      const timeout = h.string('timeout');
      if (timeout !== undefined) {
        const ms = parseDurationMs(timeout);
        if (ms === undefined) h.invalid('timeout', `"${timeout}" is not a duration`);
        else base.timeout = formatDuration(ms);
      } else base.timeout = ISTIO_ROUTE_TIMEOUT;
      const retries = h.object('retries');
      if (retries && (retries.integer('attempts', 0, 2 ** 31 - 1) ?? 0) > 0) retries.unsupported('attempts', 'retries: shadowplane makes one attempt (set attempts: 0 to say so)');
      retries?.ignore(...(retries?.keys() ?? []));
      const headers = h.object('headers');
      if (headers) {
        const req = headers.object('request');
        if (req) {
          const list = (key: 'set' | 'add'): Record<string, string> => {
            const out = req.stringMap(key);
            for (const n of Object.keys(out)) if (n.toLowerCase() === 'host') req.unsupported(key, 'changing Host with headers: use rewrite.authority');
            return Object.fromEntries(Object.entries(out).filter(([n]) => n.toLowerCase() !== 'host'));
          };
          const set = list('set');
          const add = list('add');
          const remove = req.strings('remove').map((r) => r.value.toLowerCase());
          req.finish();
          base.request_headers = { ...(Object.keys(set).length ? { set } : {}), ...(Object.keys(add).length ? { add } : {}), ...(remove.length ? { remove } : {}) };
        }
        if (headers.has('response')) headers.unsupported('response', 'response header changes');
        headers.ignore('response');
        headers.finish();
      }
      const matchFields = h.list('match').length === 0 ? [undefined] : h.objects('match');
      const built = matchFields.map((m) => ({ m, b: this.match(m) }));
      const rewrite = h.object('rewrite');
      if (rewrite) {
        const uri = rewrite.string('uri');
        const authority = rewrite.string('authority');
        const rx = rewrite.object('uriRegexRewrite');
        if (authority !== undefined) base.host_rewrite = authority;
        if (uri !== undefined && rx) rewrite.invalid(undefined, 'uri and uriRegexRewrite cannot both be set');
        else if (uri !== undefined) {
          if (built.some((x) => x.b.uri === 'regex')) rewrite.unsupported('uri', 'a uri rewrite with a regex uri match: use uriRegexRewrite');
          else base.prefix_rewrite = uri;
        } else if (rx) {
          const pattern = rx.string('match', true);
          const substitution = rx.string('rewrite', true);
          if (pattern !== undefined && substitution !== undefined) base.regex_rewrite = { pattern, substitution };
        }
        rx?.finish();
        rewrite.finish();
      }
      for (const k of ['redirect', 'directResponse', 'delegate', 'fault', 'corsPolicy']) {
        if (h.has(k)) h.unsupported(k, `${k}: shadowplane forwards and mirrors`);
        h.ignore(k);
      }
      h.finish();
      if (this.ctx.problems.errorCount > errorsBefore || split.length === 0) {
        if (split.length === 0 && dests.length > 0 && this.ctx.problems.errorCount === errorsBefore) h.unsupported('route', 'every destination has weight 0');
        return;
      }
      if (split.length === 1) base.cluster = split[0]!.cluster;
      else base.weighted_clusters = split;
      if (mirrors.length > 0) base.mirrors = mirrors;
      built.forEach(({ m, b }, j) => {
        const route = this.ctx.out.note(
          { name: `${vs.namespace}.${vs.name}.${ruleName}.match${j}`, match: b.match, ...structuredClone(base) } as RouteConfig,
          m ? m.at : h.at,
        );
        route.mirrors?.forEach((mc, k) => this.ctx.out.note(mc, this.ctx.out.origin(mirrors[k]!) ?? h.at));
        rules.push({ route, port: b.port, gateways: b.gateways });
      });
    });
    for (const k of ['tcp', 'tls']) {
      if (spec.list(k).length > 0) spec.unsupported(k, `${k} routes: shadowplane routes HTTP`);
    }
    return rules;
  }

  /** The gateway names a rule applies to: the match's own, else the VirtualService's (`mesh` when none). */
  private gatewaysOf(rule: Rule, vsGateways: readonly string[], namespace: string): Set<string> {
    return new Set((rule.gateways ?? vsGateways).map((g) => (g === 'mesh' || g.includes('/') ? g : `${namespace}/${g}`)));
  }

  build(): void {
    // Istio merges the VirtualServices of one host on a gateway in creation order.
    const ordered = [...this.virtualServices].sort(
      (a, b) => (Date.parse(a.created ?? '') || Infinity) - (Date.parse(b.created ?? '') || Infinity) || compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
    );
    // listener port → host → routes, for gateways and for the mesh separately.
    const gatewayHosts = new Map<number, { at: SourceRef; bind: string | undefined; hosts: Map<string, RouteConfig[]> }>();
    const meshHosts = new Map<number, Map<string, { domains: string[]; routes: RouteConfig[]; at: SourceRef }>>();
    const meshServed = new Set<string>();
    for (const vs of ordered) {
      const spec = vs.fields.object('spec', true);
      vs.fields.finish();
      if (!spec) continue;
      const hosts = spec.strings('hosts', true);
      const gateways = spec.has('gateways') ? spec.strings('gateways').map((g) => g.value) : ['mesh'];
      spec.ignoreWithWarning('exportTo', 'shadowplane serves one config; every VirtualService applies');
      const rules = this.httpRules(vs, spec);
      spec.finish();
      const named = new Set([...gateways, ...rules.flatMap((r) => r.gateways ?? [])].map((g) => (g === 'mesh' || g.includes('/') ? g : `${vs.namespace}/${g}`)));
      for (const g of named) {
        if (g !== 'mesh' && !this.gatewayNames.has(g)) {
          this.ctx.problems.add(spec.ref('gateways'), ProblemCode.IMPORT_NO_PARENT, `Gateway ${g} not found (add its document, e.g. kubectl get gateway.networking.istio.io ${g.split('/')[1]} -n ${g.split('/')[0]} -o yaml)`);
        }
      }
      // Gateways: each server whose hosts take this VirtualService's hosts. Which hosts take a server
      // (`hostMatched`) and which of them get routes on it (`bound`), per Gateway, to report the rest.
      const hostMatched = new Set<string>();
      const bound = new Set<string>();
      for (const server of this.servers) {
        const onServer = rules.filter((r) => this.gatewaysOf(r, gateways, vs.namespace).has(server.gateway) && (r.port === undefined || r.port === server.port));
        for (const [i, h] of hosts.entries()) {
          const vsHost = h.value.toLowerCase();
          for (const sh of server.hosts) {
            if (sh.namespace !== '*' && sh.namespace !== vs.namespace) continue;
            const host = sh.host === vsHost || covers(sh.host, vsHost) ? vsHost : covers(vsHost, sh.host) ? sh.host : undefined;
            if (host === undefined) continue;
            hostMatched.add(`${server.gateway} ${i}`);
            if (onServer.length === 0) continue;
            bound.add(`${server.gateway} ${i}`);
            let listener = gatewayHosts.get(server.port);
            if (!listener) {
              listener = { at: server.at, bind: server.bind, hosts: new Map() };
              gatewayHosts.set(server.port, listener);
            }
            const list = listener.hosts.get(host) ?? [];
            for (const r of onServer) if (!list.includes(r.route)) list.push(r.route);
            listener.hosts.set(host, list);
          }
        }
      }
      if (rules.length > 0) this.reportUnbound(vs, hosts, rules, gateways, named, hostMatched, bound);
      // The mesh: the Services (or ServiceEntry hosts) the VirtualService's hosts name.
      const meshRules = rules.filter((r) => this.gatewaysOf(r, gateways, vs.namespace).has('mesh'));
      if (meshRules.length === 0) continue;
      for (const h of hosts) {
        if (h.value.includes('*')) {
          this.ctx.problems.add(h.at, ProblemCode.IMPORT_UNSUPPORTED, `a wildcard host (${h.value}) for the mesh: name the Services`);
          continue;
        }
        const fqdn = this.fqdn(h.value, vs.namespace);
        const d = this.lookup(fqdn);
        if (!d) {
          this.ctx.problems.add(h.at, ProblemCode.IMPORT_BACKEND_NOT_FOUND, `BackendNotFound: host ${fqdn} is neither a Kubernetes Service nor a ServiceEntry host, so the mesh has no traffic for it`);
          continue;
        }
        meshServed.add(fqdn);
        for (const port of this.portsOf(d)) {
          const routes = meshRules.filter((r) => r.port === undefined || r.port === port).map((r) => r.route);
          if (routes.length > 0) this.meshHost(meshHosts, d, port, h.at).routes.push(...routes);
        }
      }
    }
    // Istio's default route: on a port the mesh serves, a host without a VirtualService goes to its Service.
    const servedPorts = new Set(meshHosts.keys());
    const candidates: Destination[] = [
      ...this.ctx.services.all().map((s): Destination => ({ kind: 'kube', fqdn: `${s.name}.${s.namespace}.${CLUSTER_DOMAIN}`, namespace: s.namespace, name: s.name, ports: s.ports.map((p) => p.port) })),
      ...this.entries.flatMap((e) => e.hosts.filter((h) => !h.includes('*')).map((fqdn): Destination => ({ kind: 'entry', fqdn, entry: e }))),
    ];
    for (const d of candidates) {
      if (meshServed.has(d.fqdn)) continue;
      for (const port of this.portsOf(d)) {
        if (!servedPorts.has(this.ctx.listen.port ?? port)) continue;
        this.defaultRoute(meshHosts, d, port);
      }
    }
    this.emitGateways(gatewayHosts);
    this.emitMesh(meshHosts);
  }

  /**
   * A VirtualService host that no server of a Gateway it names takes (or takes only on ports no
   * http rule applies to) gets no route there: Istio ignores it and `istioctl analyze` warns
   * (IST0132 VirtualServiceHostNotFoundInGateway); so does shadowplane (SP103), at the host.
   */
  private reportUnbound(
    vs: KubeObject,
    hosts: ReadonlyArray<{ readonly value: string; readonly at: SourceRef }>,
    rules: readonly Rule[],
    gateways: readonly string[],
    named: ReadonlySet<string>,
    hostMatched: ReadonlySet<string>,
    bound: ReadonlySet<string>,
  ): void {
    for (const g of named) {
      if (g === 'mesh' || !this.gatewayNames.has(g)) continue;
      // A Gateway named only by matches whose rules were dropped gets no routes anyway.
      if (!rules.some((r) => this.gatewaysOf(r, gateways, vs.namespace).has(g))) continue;
      const servers = this.servers.filter((s) => s.gateway === g);
      hosts.forEach((h, i) => {
        if (bound.has(`${g} ${i}`)) return;
        const why = hostMatched.has(`${g} ${i}`)
          ? `no http rule of this VirtualService applies on the ports of the Gateway's servers that take it (${[...new Set(servers.map((s) => s.port))].join(', ')}): see each match's port and gateways`
          : `no server of the Gateway takes this host (their hosts: ${[...new Set(servers.flatMap((s) => s.hosts.map((x) => `${x.namespace}/${x.host}`)))].join(', ') || 'none'})`;
        this.ctx.problems.warn(h.at, ProblemCode.IMPORT_IGNORED, `host ${h.value} gets no route on Gateway ${g}, as in Istio (istioctl analyze: IST0132 VirtualServiceHostNotFoundInGateway): ${why}`);
      });
    }
  }

  private meshHost(
    meshHosts: Map<number, Map<string, { domains: string[]; routes: RouteConfig[]; at: SourceRef }>>,
    d: Destination,
    port: number,
    at: SourceRef,
  ): { domains: string[]; routes: RouteConfig[]; at: SourceRef } {
    const listenPort = this.ctx.listen.port ?? port;
    let hosts = meshHosts.get(listenPort);
    if (!hosts) {
      hosts = new Map();
      meshHosts.set(listenPort, hosts);
    }
    const key = `${d.fqdn}:${port}`;
    let vh = hosts.get(key);
    if (!vh) {
      // A Service answers to its short forms as well (reviews, reviews.ns, reviews.ns.svc), with or without the port.
      const names = d.kind === 'kube' ? [d.fqdn, `${d.name}.${d.namespace}.svc`, `${d.name}.${d.namespace}`, d.name] : [d.fqdn];
      vh = { domains: names.flatMap((n) => [n, `${n}:${port}`]), routes: [], at };
      hosts.set(key, vh);
    }
    return vh;
  }

  private defaultRoute(meshHosts: Map<number, Map<string, { domains: string[]; routes: RouteConfig[]; at: SourceRef }>>, d: Destination, port: number): void {
    const at = d.kind === 'entry' ? d.entry.at : this.ctx.services.service(d.namespace, d.name)!.at;
    const r = this.resolve(d.fqdn, port, undefined, at, true);
    if (typeof r === 'string') {
      this.ctx.problems.warn(at, ProblemCode.IMPORT_IGNORED, `no default route for ${d.fqdn} port ${port}: ${r}`);
      return;
    }
    const vh = this.meshHost(meshHosts, d, port, at);
    vh.routes.push(this.ctx.out.note({ name: `default.${d.fqdn}.${port}`, match: { prefix: '/' }, cluster: r.cluster, timeout: ISTIO_ROUTE_TIMEOUT } as RouteConfig, at));
  }

  private emitGateways(gatewayHosts: Map<number, { at: SourceRef; bind: string | undefined; hosts: Map<string, RouteConfig[]> }>): void {
    for (const [port, l] of [...gatewayHosts].sort(([a], [b]) => a - b)) {
      const specificity = (h: string): number => (h === '*' ? -1 : h.startsWith('*.') ? h.length - 2 : Number.MAX_SAFE_INTEGER);
      const virtualHosts: VirtualHostConfig[] = [...l.hosts]
        .sort(([a], [b]) => specificity(b) - specificity(a) || compareStrings(a, b))
        .map(([host, routes]) => ({ name: virtualHostName(host), domains: domainsFor(host), routes }));
      this.ctx.out.listeners.push(
        this.ctx.out.note({ name: `istio-gateway.${port}`, address: listenerAddress(l.bind ?? this.ctx.listen.host, port), virtual_hosts: virtualHosts }, child(l.at, 'port')),
      );
    }
  }

  private emitMesh(meshHosts: Map<number, Map<string, { domains: string[]; routes: RouteConfig[]; at: SourceRef }>>): void {
    for (const [port, hosts] of [...meshHosts].sort(([a], [b]) => a - b)) {
      // A domain two hosts would share (a short name in two namespaces, a name on two ports of one
      // listener) goes to the first only, as Envoy allows each once.
      const taken = new Set<string>();
      const virtualHosts: VirtualHostConfig[] = [...hosts]
        .sort(([a], [b]) => compareStrings(a, b))
        .flatMap(([key, vh]) => {
          const domains = vh.domains.filter((d) => !taken.has(d));
          domains.forEach((d) => taken.add(d));
          return domains.length === 0 || vh.routes.length === 0 ? [] : [{ name: virtualHostName(key.replace(':', '.')), domains, routes: vh.routes }];
        });
      if (virtualHosts.length === 0) continue;
      const at = hosts.values().next().value!.at;
      this.ctx.out.listeners.push(this.ctx.out.note({ name: `mesh.${port}`, address: listenerAddress(this.ctx.listen.host, port), virtual_hosts: virtualHosts }, at));
    }
  }
}
