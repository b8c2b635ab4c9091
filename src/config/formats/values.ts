// Value conversions the importers share: durations as each system writes them, and shares of
// traffic as shadowplane's percent (four decimals, Envoy's MILLION denominator at its finest).

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 };

/**
 * A Go / Kubernetes duration ("1h30m", "2s", "500ms", "1.5s"), as Gateway API (GEP-2257), Istio
 * and nginx (APISIX's plugin_attr) write them; undefined when it is not one.
 */
export function parseDurationMs(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/** Milliseconds in shadowplane's duration syntax: "2s", "250ms", "0s". */
export function formatDuration(ms: number): string {
  const rounded = Math.round(ms);
  return rounded % 1000 === 0 ? `${rounded / 1000}s` : `${rounded}ms`;
}

/** The smallest share shadowplane (Envoy's MILLION denominator) can express, in percent. */
export const PERCENT_STEP = 0.0001;

/**
 * `numerator/denominator` as a percent with at most four decimals; `exact` is false when it had to
 * be rounded to the nearest millionth (e.g. 1/3).
 */
export function percentOf(numerator: number, denominator: number): { percent: number; exact: boolean } {
  const millionths = (numerator * 1_000_000) / denominator;
  const rounded = Math.round(millionths);
  return { percent: rounded / 10_000, exact: Math.abs(millionths - rounded) < 1e-6 };
}

/** Code-point order, the same on every machine (localeCompare is not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
