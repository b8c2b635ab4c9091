// The one place that knows Envoy's resource type URLs and which protobuf message each names.
// Mirrors go-control-plane's pkg/resource/v3 and grpc-js-xds's src/resources.ts.

const PREFIX = 'type.googleapis.com/';

export const TypeUrl = {
  Listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  RouteConfiguration: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  Cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  ClusterLoadAssignment: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  Runtime: `${PREFIX}envoy.service.runtime.v3.Runtime`,
  HttpConnectionManager: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  Router: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  UpstreamTlsContext: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  HttpProtocolOptions: `${PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  Bootstrap: `${PREFIX}envoy.config.bootstrap.v3.Bootstrap`,
  InternalListenerBootstrap: `${PREFIX}envoy.extensions.bootstrap.internal_listener.v3.InternalListener`,
} as const;

export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/**
 * The key of the upstream HTTP options in Cluster.typed_extension_protocol_options: the extension's
 * name, which Envoy takes to be the message name.
 */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** `type.googleapis.com/a.b.C` → `a.b.C`; any host part before the last `/` is ignored, as protobuf does. */
export function messageNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function typeUrlOf(messageName: string): string {
  return PREFIX + messageName;
}
