// What the data path runs on: Envoy resources checked, cross-referenced and compiled into lookup
// structures. Built once per accepted resource set and never changed; a request keeps the snapshot
// it started with, so a new config applies to new requests only.
import type { DenominatorValue } from '../envoy-api/envoy-defaults.js';
import type { JsonPath } from '../json-path/json-path.js';
import type { SafeRewrite } from '../safe-regex/safe-regex.js';
import type { RouteMatcher } from './route-table.js';
import type { VirtualHostIndex } from './virtual-host-match.js';

/** Envoy's FractionalPercent with its denominator as the number it divides by. */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator: DenominatorValue;
}

export type AppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export type HeaderMutationSpec =
  | { readonly kind: 'remove'; readonly name: string }
  | { readonly kind: 'append'; readonly name: string; readonly value: string; readonly action: AppendAction };

export type MirrorTarget = { readonly kind: 'cluster'; readonly cluster: string } | { readonly kind: 'header'; readonly header: string };

/** Comparing a copy's response with the primary's; read from the route's metadata (no Envoy field). */
export interface CompareSpec {
  /** Response headers compared, lower-case. */
  readonly headers: readonly string[];
  readonly ignoreJsonPaths: readonly JsonPath[];
  /** Bodies up to this many bytes are kept and compared; longer ones by SHA-256 only. */
  readonly maxBodyBytes: number;
}

export interface MirrorPolicySpec {
  readonly target: MirrorTarget;
  readonly fraction: FractionalPercent;
  /** '' when the policy has no runtime key. */
  readonly runtimeKey: string;
  readonly hostSuffix: boolean;
  readonly hostRewrite: string | undefined;
  readonly headerMutations: readonly HeaderMutationSpec[];
  /** For metrics: the cluster, or `header:<name>` for a header-selected mirror. */
  readonly label: string;
  /** undefined: the copy's response is drained and discarded. */
  readonly compare: CompareSpec | undefined;
}

export type PrimaryTarget =
  | { readonly kind: 'cluster'; readonly cluster: string }
  | { readonly kind: 'weighted'; readonly clusters: ReadonlyArray<{ readonly name: string; readonly weight: number }>; readonly totalWeight: number };

export interface RouteLabels {
  readonly route_config: string;
  readonly virtual_host: string;
  readonly route: string;
}

/** prefix_rewrite replaces the matched part of the path; regex_rewrite every match in the path (query kept). */
export type PathRewrite = { readonly kind: 'prefix'; readonly value: string } | { readonly kind: 'regex'; readonly rewrite: SafeRewrite };

export interface RouteSpec {
  readonly matcher: RouteMatcher;
  readonly target: PrimaryTarget;
  /** 0: no timeout. */
  readonly timeoutMs: number;
  /** request_headers_to_remove (as removes, first) then request_headers_to_add, in order. */
  readonly requestHeaderMutations: readonly HeaderMutationSpec[];
  readonly pathRewrite: PathRewrite | undefined;
  readonly hostRewrite: string | undefined;
  /** The effective list: the route's own, else its virtual host's, else its route configuration's. */
  readonly mirrorPolicies: readonly MirrorPolicySpec[];
  readonly labels: RouteLabels;
}

export interface VirtualHostSpec {
  readonly name: string;
  readonly routes: readonly RouteSpec[];
}

export interface RouteConfigSpec {
  readonly name: string;
  readonly virtualHosts: VirtualHostIndex<VirtualHostSpec>;
}

export interface ListenerSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly routeConfigName: string;
}

export interface SocketEndpointSpec {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

/** An endpoint that is an internal listener of this data plane (Envoy's envoy_internal_address). */
export interface InternalEndpointSpec {
  readonly internalListener: string;
  readonly weight: number;
}

export type EndpointSpec = SocketEndpointSpec | InternalEndpointSpec;

/** Envoy's circuit breaker thresholds for the DEFAULT priority. */
export interface ClusterLimits {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
}

export interface ClusterSpec {
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly maxStreamDurationMs: number | undefined;
  readonly http2: boolean;
  /** A DNS cluster's address family (V4_ONLY: 4, V6_ONLY: 6); undefined: whatever the resolver gives first. */
  readonly dnsFamily: 4 | 6 | undefined;
  /** null: plaintext. */
  readonly tls: { readonly sni: string | undefined } | null;
  readonly limits: ClusterLimits;
  readonly endpoints: readonly EndpointSpec[];
}

export interface DataPlaneConfig {
  readonly listeners: readonly ListenerSpec[];
  /** Listeners without a socket (Envoy's internal_listener), by name: each one's route configuration. */
  readonly internalListeners: ReadonlyMap<string, RouteConfigSpec>;
  readonly routeConfigs: ReadonlyMap<string, RouteConfigSpec>;
  readonly clusters: ReadonlyMap<string, ClusterSpec>;
}
