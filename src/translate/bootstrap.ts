// Envoy bootstraps: the ADS one that points a real Envoy at shadowplane, and a static one that
// embeds rendered resources (for `envoy --mode validate`, or running Envoy without a control plane).
import { isIpLiteral, parseHostPortList, type HostPort } from '../config/address.js';
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { RTDS_LAYER_NAME } from '../envoy-api/metadata.js';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { HTTP_PROTOCOL_OPTIONS_KEY, TypeUrl } from '../envoy-api/type-urls.js';
import { ADS_CONFIG_SOURCE } from './config-source.js';

export const XDS_CLUSTER_NAME = 'shadowplane_xds';
export const DEFAULT_NODE_CLUSTER = 'shadowplane';

export interface AdsBootstrapOptions {
  /** host:port of shadowplane's xDS server, or of each replica of a fleet, comma-separated. */
  readonly xds: string;
  readonly nodeId: string;
  /** Envoy refuses ADS without a node cluster; defaults to DEFAULT_NODE_CLUSTER. */
  readonly nodeCluster?: string;
  readonly adminPort?: number;
  /** Incremental (delta) xDS instead of state of the world. */
  readonly delta?: boolean;
  /** TLS to the control plane (mutual with a client certificate); plaintext without. */
  readonly tls?: XdsClientTlsFiles;
}

export interface XdsClientTlsFiles {
  /** Paths as Envoy will read them (absolute, so Envoy's working directory does not matter). */
  readonly caFile: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** SNI, and the name the control plane's certificate must carry; default the xDS host. */
  readonly sni?: string;
}

function socketAddress(host: string, port: number): JsonObject {
  return { socket_address: { address: host, port_value: port } };
}

/**
 * Internal listeners (the hop that sends a mirror's copies to another path, mirror-path.ts) need this
 * extension; every bootstrap carries it, so a later edit that adds a path mirror needs no restart.
 */
export const BOOTSTRAP_EXTENSIONS: JsonObject[] = [
  { name: 'envoy.bootstrap.internal_listener', typed_config: { '@type': TypeUrl.InternalListenerBootstrap } },
];

function adminBlock(port: number): JsonObject {
  return { address: socketAddress('127.0.0.1', port) };
}

/**
 * The xDS cluster's UpstreamTlsContext: Envoy verifies the control plane against the CA and, unlike
 * its default, against a name (the SNI, else the host; with several replicas, any of their hosts), as
 * any gRPC client would; it offers h2 by ALPN, which gRPC servers need.
 */
function xdsTransportSocket(t: XdsClientTlsFiles, hosts: readonly string[]): JsonObject {
  const names = t.sni !== undefined ? [t.sni] : [...new Set(hosts)];
  const sni = names.length === 1 && !isIpLiteral(names[0]!) ? names[0] : undefined;
  const common: JsonObject = {
    alpn_protocols: ['h2'],
    validation_context: {
      trusted_ca: { filename: t.caFile },
      match_typed_subject_alt_names: names.map((name) => ({ san_type: isIpLiteral(name) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: name } })),
    },
  };
  if (t.certFile !== undefined && t.keyFile !== undefined) {
    common.tls_certificates = [{ certificate_chain: { filename: t.certFile }, private_key: { filename: t.keyFile } }];
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': TypeUrl.UpstreamTlsContext, ...(sni !== undefined ? { sni } : {}), common_tls_context: common },
  };
}

/**
 * What makes Envoy leave a dead replica fast, when the xDS cluster may hold several (several
 * addresses, or a name that resolves to several): a TCP health check every second takes a replica
 * that stops accepting connections out of the pool, no panic mode sends to it anyway, and the ADS
 * stream is re-established after 0.25 s (doubling up to 2 s; Envoy's default is 0.5 s up to 30 s).
 */
const FAILOVER_CLUSTER: JsonObject = {
  health_checks: [{ timeout: '1s', interval: '1s', no_traffic_interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }],
  common_lb_config: { healthy_panic_threshold: { value: 0 } },
};
const FAILOVER_RETRY: JsonObject = { retry_back_off: { base_interval: '0.25s', max_interval: '2s' } };

export function adsBootstrap(o: AdsBootstrapOptions): JsonObject {
  const replicas: readonly HostPort[] | undefined = parseHostPortList(o.xds);
  if (!replicas) throw new RangeError(`--xds "${o.xds}" is not host:port[,host:port…]`);
  const byName = replicas.some((r) => !isIpLiteral(r.host));
  const failover = replicas.length > 1 || byName;
  const node: JsonObject = { id: o.nodeId, cluster: o.nodeCluster ?? DEFAULT_NODE_CLUSTER };
  return {
    node,
    admin: adminBlock(o.adminPort ?? 9901),
    bootstrap_extensions: BOOTSTRAP_EXTENSIONS,
    dynamic_resources: {
      ads_config: {
        api_type: o.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER_NAME, ...(failover ? { retry_policy: FAILOVER_RETRY } : {}) } }],
        set_node_on_first_message_only: true,
      },
      lds_config: ADS_CONFIG_SOURCE,
      cds_config: ADS_CONFIG_SOURCE,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER_NAME,
          type: byName ? 'STRICT_DNS' : 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: XDS_CLUSTER_NAME,
            endpoints: [{ lb_endpoints: replicas.map((r) => ({ endpoint: { address: socketAddress(r.host, r.port) } })) }],
          },
          ...(failover ? FAILOVER_CLUSTER : {}),
          typed_extension_protocol_options: {
            [HTTP_PROTOCOL_OPTIONS_KEY]: {
              '@type': TypeUrl.HttpProtocolOptions,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          ...(o.tls ? { transport_socket: xdsTransportSocket(o.tls, replicas.map((r) => r.host)) } : {}),
        },
      ],
    },
    layered_runtime: {
      layers: [
        { name: RTDS_LAYER_NAME, rtds_layer: { name: RTDS_LAYER_NAME, rtds_config: ADS_CONFIG_SOURCE } },
        { name: 'admin', admin_layer: {} },
      ],
    },
  };
}

function withoutType(r: TypedJson): JsonObject {
  const { '@type': _type, ...rest } = r;
  return rest;
}

/** Replaces each listener's RDS reference with the route configuration it names. */
function inlineRoutes(listener: TypedJson, routes: ReadonlyMap<string, TypedJson>): JsonObject {
  const l = structuredClone(withoutType(listener)) as JsonObject & { filter_chains: Array<{ filters: Array<{ typed_config: JsonObject }> }> };
  for (const chain of l.filter_chains) {
    for (const f of chain.filters) {
      const hcm = f.typed_config as JsonObject & { rds?: { route_config_name: string } };
      if (!hcm.rds) continue;
      const rc = routes.get(hcm.rds.route_config_name);
      if (!rc) throw new RangeError(`listener ${String(l.name)} names unknown route configuration ${hcm.rds.route_config_name}`);
      delete hcm.rds;
      hcm.route_config = withoutType(rc);
    }
  }
  return l;
}

/** EDS clusters become STATIC with their ClusterLoadAssignment inline. */
function inlineEndpoints(cluster: TypedJson, endpoints: ReadonlyMap<string, TypedJson>): JsonObject {
  const c = structuredClone(withoutType(cluster));
  if (c.type !== 'EDS') return c;
  const cla = endpoints.get(String(c.name));
  if (!cla) throw new RangeError(`EDS cluster ${String(c.name)} has no ClusterLoadAssignment`);
  delete c.eds_cluster_config;
  c.type = 'STATIC';
  c.load_assignment = withoutType(cla);
  return c;
}

/** A self-contained bootstrap holding the same listeners, routes, clusters and endpoints. */
export function staticBootstrap(r: ResourceSet, o: { nodeId: string; adminPort?: number }): JsonObject {
  const routes = new Map(r.routes.map((rc) => [String(rc.name), rc]));
  const endpoints = new Map(r.endpoints.map((e) => [String(e.cluster_name), e]));
  return {
    node: { id: o.nodeId },
    admin: adminBlock(o.adminPort ?? 9901),
    bootstrap_extensions: BOOTSTRAP_EXTENSIONS,
    static_resources: {
      listeners: r.listeners.map((l) => inlineRoutes(l, routes)),
      clusters: r.clusters.map((c) => inlineEndpoints(c, endpoints)),
    },
  };
}
