// Envoy's own defaults for fields a resource may leave unset, written once for the writer (model,
// translate), the readers (proxy) and validation (config), so all of them mean what Envoy means.

/** Cluster.connect_timeout when unset. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** RouteAction.timeout when unset. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/** CircuitBreakers.Thresholds max_connections, max_pending_requests and max_requests when unset. */
export const DEFAULT_CIRCUIT_BREAKER_LIMIT = 1024;

/**
 * FractionalPercent.DenominatorType: each name and the number it divides by.
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/v3/percent.proto#type-v3-fractionalpercent
 */
export const DENOMINATOR_VALUE = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** A denominator as Envoy's JSON names it: `HUNDRED`, `TEN_THOUSAND`, `MILLION`. */
export type DenominatorType = keyof typeof DENOMINATOR_VALUE;

/** A denominator as the number it divides by: 100, 10 000 or 1 000 000. */
export type DenominatorValue = (typeof DENOMINATOR_VALUE)[DenominatorType];

/** The names, smallest denominator first. */
export const DENOMINATOR_TYPES = Object.keys(DENOMINATOR_VALUE) as [DenominatorType, ...DenominatorType[]];
