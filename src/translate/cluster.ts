// Cluster → Envoy Cluster: EDS over ADS for IP endpoints, STRICT_DNS / LOGICAL_DNS (with the
// endpoints inline, as Envoy requires) for names outside the mesh.
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { HTTP_PROTOCOL_OPTIONS_KEY, TypeUrl } from '../envoy-api/type-urls.js';
import type { Cluster } from '../model/types.js';
import { ADS_CONFIG_SOURCE } from './config-source.js';
import { msToDuration } from './durations.js';
import { loadAssignment } from './endpoint.js';

const DISCOVERY_TYPE = { eds: 'EDS', strict_dns: 'STRICT_DNS', logical_dns: 'LOGICAL_DNS' } as const;

export function circuitBreakers(c: Cluster): JsonObject | undefined {
  const cb = c.circuitBreakers;
  if (!cb) return undefined;
  const t: JsonObject = {}; // priority DEFAULT is Envoy's default
  if (cb.maxConnections !== undefined) t.max_connections = cb.maxConnections;
  if (cb.maxPendingRequests !== undefined) t.max_pending_requests = cb.maxPendingRequests;
  if (cb.maxRequests !== undefined) t.max_requests = cb.maxRequests;
  if (cb.maxRetries !== undefined) t.max_retries = cb.maxRetries;
  return { thresholds: [t] };
}

/** HTTP/2 and max_stream_duration both live in the upstream HttpProtocolOptions extension. */
export function protocolOptions(c: Cluster): JsonObject | undefined {
  if (!c.http2 && c.maxStreamDurationMs === undefined) return undefined;
  const options: JsonObject = {
    '@type': TypeUrl.HttpProtocolOptions,
    explicit_http_config: c.http2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
  };
  if (c.maxStreamDurationMs !== undefined) {
    options.common_http_protocol_options = { max_stream_duration: msToDuration(c.maxStreamDurationMs) };
  }
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: options };
}

export function buildCluster(c: Cluster): TypedJson {
  const out: TypedJson = { '@type': TypeUrl.Cluster, name: c.name, type: DISCOVERY_TYPE[c.discovery] };
  if (c.discovery === 'eds') out.eds_cluster_config = { eds_config: ADS_CONFIG_SOURCE };
  out.connect_timeout = msToDuration(c.connectTimeoutMs);
  const cb = circuitBreakers(c);
  if (cb) out.circuit_breakers = cb;
  if (c.discovery !== 'eds') out.load_assignment = loadAssignment(c);
  if (c.dnsLookupFamily !== undefined) out.dns_lookup_family = c.dnsLookupFamily.toUpperCase();
  if (c.tls) {
    const tls: JsonObject = { '@type': TypeUrl.UpstreamTlsContext };
    if (c.tls.sni !== undefined) tls.sni = c.tls.sni;
    if (c.http2) tls.common_tls_context = { alpn_protocols: ['h2'] };
    out.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: tls };
  }
  const po = protocolOptions(c);
  if (po) out.typed_extension_protocol_options = po;
  return out;
}
