// Cluster and ClusterLoadAssignment (proto3 JSON) → ClusterSpec.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto
import { isIP } from 'node:net';
import { DEFAULT_CIRCUIT_BREAKER_LIMIT, DEFAULT_CONNECT_TIMEOUT_MS } from '../../envoy-api/envoy-defaults.js';
import { HTTP_PROTOCOL_OPTIONS_KEY, TypeUrl } from '../../envoy-api/type-urls.js';
import type { ClusterLimits, ClusterSpec, EndpointSpec } from '../data-plane-config.js';
import type { JsonFields } from './resource-reader.js';

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS';

/**
 * A cluster before its endpoints are known (EDS clusters get theirs from a ClusterLoadAssignment):
 * the ClusterSpec fields but `endpoints`, so the two cannot drift apart.
 */
export interface ParsedCluster extends Omit<ClusterSpec, 'endpoints'> {
  readonly type: DiscoveryType;
  /** The ClusterLoadAssignment name an EDS cluster reads: eds_cluster_config.service_name, else the cluster's. */
  readonly edsServiceName: string;
  readonly inlineEndpoints: readonly EndpointSpec[];
}

function limits(c: JsonFields): ClusterLimits {
  let out: ClusterLimits = {
    maxConnections: DEFAULT_CIRCUIT_BREAKER_LIMIT,
    maxPendingRequests: DEFAULT_CIRCUIT_BREAKER_LIMIT,
    maxRequests: DEFAULT_CIRCUIT_BREAKER_LIMIT,
  };
  const cb = c.object('circuit_breakers');
  for (const t of cb?.objects('thresholds') ?? []) {
    const priority = t.enumeration('priority', ['DEFAULT', 'HIGH']) ?? 'DEFAULT';
    const read = {
      maxConnections: t.uint('max_connections') ?? DEFAULT_CIRCUIT_BREAKER_LIMIT,
      maxPendingRequests: t.uint('max_pending_requests') ?? DEFAULT_CIRCUIT_BREAKER_LIMIT,
      maxRequests: t.uint('max_requests') ?? DEFAULT_CIRCUIT_BREAKER_LIMIT,
    };
    t.accept('max_retries'); // this data path never retries
    t.finish();
    // Every request here runs at the DEFAULT priority, so only its thresholds apply.
    if (priority === 'DEFAULT') out = read;
  }
  cb?.finish();
  return out;
}

function protocolOptions(c: JsonFields): { http2: boolean; maxStreamDurationMs: number | undefined } {
  const out = { http2: false, maxStreamDurationMs: undefined as number | undefined };
  const all = c.object('typed_extension_protocol_options');
  const po = all?.object(HTTP_PROTOCOL_OPTIONS_KEY);
  all?.finish();
  if (!po) return out;
  const explicit = po.object('explicit_http_config');
  if (explicit) {
    const h1 = explicit.object('http_protocol_options');
    const h2 = explicit.object('http2_protocol_options');
    h1?.finish();
    h2?.finish();
    out.http2 = h2 !== undefined;
    explicit.finish();
  }
  const common = po.object('common_http_protocol_options');
  if (common) {
    const ms = common.durationMs('max_stream_duration');
    // 0s disables it, as in Envoy.
    out.maxStreamDurationMs = ms === 0 ? undefined : ms;
    common.finish();
  }
  po.finish();
  return out;
}

function tls(c: JsonFields): { sni: string | undefined } | null {
  const ts = c.object('transport_socket');
  if (!ts) return null;
  ts.accept('name');
  const cfg = ts.object('typed_config', true);
  ts.finish();
  if (!cfg) return null;
  const type = cfg.string('@type');
  if (type !== TypeUrl.UpstreamTlsContext) {
    cfg.problem(`unsupported transport socket "${type ?? ''}" (only UpstreamTlsContext)`, '@type');
    return null;
  }
  const sni = cfg.string('sni') || undefined;
  const common = cfg.object('common_tls_context');
  common?.strings('alpn_protocols'); // ALPN follows the cluster's protocol (h2 or http/1.1)
  common?.finish();
  cfg.finish();
  return { sni };
}

/** `load_assignment` or an EDS ClusterLoadAssignment → endpoints. Only priority 0 is supported. */
export function parseLoadAssignment(cla: JsonFields, allowHostnames: boolean): EndpointSpec[] {
  cla.accept('cluster_name');
  const out: EndpointSpec[] = [];
  for (const locality of cla.objects('endpoints')) {
    if ((locality.uint('priority') ?? 0) !== 0) locality.problem('only priority 0 is supported', 'priority');
    locality.accept('locality');
    for (const lb of locality.objects('lb_endpoints')) {
      const weight = lb.uint('load_balancing_weight') ?? 1;
      if (weight < 1) lb.problem('must be at least 1', 'load_balancing_weight');
      const address = lb.object('endpoint', true)?.object('address', true);
      const internal = address?.object('envoy_internal_address');
      if (internal) {
        // An internal listener of this data plane (cluster-manager.ts sends through its routes).
        const listener = internal.name('server_listener_name');
        internal.accept('endpoint_id'); // only tells endpoints of one listener apart
        internal.finish();
        address?.finish();
        lb.finish();
        if (listener !== undefined) out.push({ internalListener: listener, weight });
        continue;
      }
      const sa = address?.object('socket_address', true);
      address?.finish();
      const host = sa?.name('address');
      const port = sa?.uint('port_value');
      sa?.accept('protocol');
      sa?.finish();
      if (host !== undefined && !allowHostnames && isIP(host) === 0) sa?.problem(`malformed IP address: ${host}`, 'address');
      if (port !== undefined && (port < 1 || port > 65535)) sa?.problem('must be 1–65535', 'port_value');
      lb.finish();
      if (host !== undefined && port !== undefined) out.push({ host, port, weight });
    }
    locality.finish();
  }
  cla.finish();
  return out;
}

export function parseCluster(c: JsonFields): ParsedCluster | undefined {
  const name = c.name('name');
  // proto3's default discovery type is STATIC.
  const type = c.enumeration<DiscoveryType>('type', ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS']) ?? 'STATIC';
  let edsServiceName = name ?? '';
  const eds = c.object('eds_cluster_config');
  if (eds) {
    eds.accept('eds_config'); // where EDS comes from is the xDS client's business
    edsServiceName = eds.string('service_name') || edsServiceName;
    eds.finish();
  }
  const connectTimeoutMs = c.durationMs('connect_timeout') ?? DEFAULT_CONNECT_TIMEOUT_MS;
  c.enumeration('lb_policy', ['ROUND_ROBIN']); // the only policy here, and Envoy's default
  const la = c.object('load_assignment');
  const inlineEndpoints = la ? parseLoadAssignment(la, type === 'STRICT_DNS' || type === 'LOGICAL_DNS') : [];
  if (type !== 'EDS' && !la) c.problem(`a ${type} cluster needs load_assignment`, 'load_assignment');
  if (type === 'EDS' && la) c.problem('an EDS cluster takes its endpoints from a ClusterLoadAssignment, not load_assignment', 'load_assignment');
  const po = protocolOptions(c);
  const family = c.enumeration('dns_lookup_family', ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL']);
  // Connections here resolve a name per connect; only the families that pin one are honoured as such.
  const dnsFamily: 4 | 6 | undefined = family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : undefined;
  const result = { limits: limits(c), tls: tls(c), dnsFamily };
  c.finish();
  if (name === undefined) return undefined;
  return { name, type, edsServiceName, connectTimeoutMs, ...po, ...result, inlineEndpoints };
}
