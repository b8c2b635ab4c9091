// The compiled config: references resolved, defaults applied, deep-frozen. Everything downstream
// (translate, and through Envoy resources the data path) reads only this.
import type { DenominatorType } from '../envoy-api/envoy-defaults.js';

/** A FractionalPercent as Envoy's JSON writes it (e.g. 50/HUNDRED). */
export interface Fraction {
  readonly numerator: number;
  readonly denominator: DenominatorType;
}

export type MirrorTarget =
  | { readonly kind: 'cluster'; readonly cluster: string }
  /** `allowed` is null when any cluster may be named (Envoy's plain cluster_header). */
  | { readonly kind: 'header'; readonly header: string; readonly allowed: readonly string[] | null };

export type HeaderMutation =
  | { readonly op: 'add' | 'set'; readonly name: string; readonly value: string }
  | { readonly op: 'remove'; readonly name: string };

/** A feature that only newer Envoys understand, and where the model uses it. */
export interface EnvoyFeature {
  readonly feature: string;
  readonly minEnvoyVersion: string;
  readonly where: string;
}

/** Comparing the mirror's response with the primary's (Envoy has no such feature; see translate/mirror-compare.ts). */
export interface ResponseCompare {
  /** Response headers compared, lower-case. */
  readonly headers: readonly string[];
  /** JSONPath subset: locations left out of a JSON body comparison. */
  readonly ignoreJsonPaths: readonly string[];
  /** Bodies up to this many bytes are compared; longer ones by SHA-256 of the whole body. */
  readonly maxBodyBytes: number;
}

/**
 * The path a copy is sent to instead of the request's: `replace` is `value` plus the request's query,
 * `prefix` is `value` plus the request's path and query. Envoy's mirror policy cannot change a path,
 * so translate/mirror-path.ts routes such copies through an internal listener that rewrites it.
 */
export interface MirrorPath {
  readonly value: string;
  readonly mode: 'replace' | 'prefix';
}

export interface MirrorPolicy {
  readonly target: MirrorTarget;
  readonly fraction: Fraction;
  readonly runtimeKey: string;
  readonly shadowHostSuffix: boolean;
  readonly hostRewrite: string | undefined;
  readonly headerMutations: readonly HeaderMutation[];
  readonly traceSampled: boolean | undefined;
  /** undefined: the mirror's response is not compared (the default). */
  readonly compare: ResponseCompare | undefined;
  /** undefined: the copy keeps the request's path. */
  readonly path: MirrorPath | undefined;
  /** The oldest Envoy that understands every field this policy needs; undefined: no version-gated field. */
  readonly minEnvoyVersion: string | undefined;
}

export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: string }
  | { readonly kind: 'present' };

/** A query parameter condition: the name is exact and case-sensitive. */
export interface QueryParameterMatch {
  readonly name: string;
  readonly match: StringMatch;
}

export interface HeaderMatch {
  readonly name: string;
  readonly match: StringMatch;
  readonly invert: boolean;
}

export type PathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  /** Whole path segments: `/api` matches `/api`, `/api/` and `/api/x`, not `/apix`. */
  | { readonly kind: 'path_separated_prefix'; readonly value: string }
  | { readonly kind: 'path'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: string };

export interface RouteMatch {
  readonly path: PathMatch;
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatch[];
  readonly queryParameters: readonly QueryParameterMatch[];
  readonly methods: readonly string[];
}

/** Envoy's RegexMatchAndSubstitute on the path (query excluded); `\N` in the substitution is group N. */
export interface RegexRewrite {
  readonly pattern: string;
  readonly substitution: string;
}

export type Primary =
  | { readonly kind: 'cluster'; readonly cluster: string }
  | { readonly kind: 'weighted'; readonly clusters: ReadonlyArray<{ readonly cluster: string; readonly weight: number }> };

export interface Route {
  /** Given in the config, or `route<index>`. */
  readonly name: string;
  readonly match: RouteMatch;
  readonly primary: Primary;
  readonly timeoutMs: number | undefined;
  readonly prefixRewrite: string | undefined;
  readonly regexRewrite: RegexRewrite | undefined;
  readonly hostRewrite: string | undefined;
  /** Changes to the request on its way upstream; the mirrors' copies are made after them, so they carry them too. */
  readonly requestHeaderMutations: readonly HeaderMutation[];
  readonly mirrors: readonly MirrorPolicy[];
}

export interface VirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  readonly mirrors: readonly MirrorPolicy[];
  readonly routes: readonly Route[];
}

export interface NodeSelector {
  /** Globs: `*` matches any run of characters. */
  readonly id: string | undefined;
  readonly cluster: string | undefined;
}

export interface Listener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Empty: every node gets this listener. */
  readonly nodes: readonly NodeSelector[];
  readonly mirrors: readonly MirrorPolicy[];
  readonly virtualHosts: readonly VirtualHost[];
}

export type Discovery = 'eds' | 'strict_dns' | 'logical_dns';

export type DnsLookupFamily = 'auto' | 'v4_only' | 'v6_only' | 'v4_preferred' | 'all';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly weight: number | undefined;
}

export interface CircuitBreakers {
  readonly maxConnections: number | undefined;
  readonly maxPendingRequests: number | undefined;
  readonly maxRequests: number | undefined;
  readonly maxRetries: number | undefined;
}

export interface Cluster {
  readonly name: string;
  readonly discovery: Discovery;
  readonly endpoints: readonly Endpoint[];
  readonly connectTimeoutMs: number;
  readonly maxStreamDurationMs: number | undefined;
  readonly http2: boolean;
  /** DNS clusters: which address families a name resolves to; undefined: Envoy's default. */
  readonly dnsLookupFamily: DnsLookupFamily | undefined;
  /** null: plaintext. */
  readonly tls: { readonly sni: string | undefined } | null;
  readonly circuitBreakers: CircuitBreakers | undefined;
}

export interface Model {
  readonly listeners: readonly Listener[];
  readonly clusters: readonly Cluster[];
  /** Features that need a newer Envoy than the oldest supported one, with where each is used. */
  readonly features: readonly EnvoyFeature[];
  /** The oldest Envoy that understands everything this model compiles to; undefined: no version-gated field. */
  readonly minEnvoyVersion: string | undefined;
}
