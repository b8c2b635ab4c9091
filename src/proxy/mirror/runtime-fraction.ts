// Envoy's runtime fractional sampling (Runtime::Snapshot::featureEnabled with a FractionalPercent).
// A runtime value for the policy's key overrides its default: a FractionalPercent object (what an RTDS
// layer holds) as it is, a number (or numeric string) ≥ 0 as a percentage — kept as an integer, so
// 30.7 means 30 — and anything else leaves the default in force. The request is in when
// `random % denominator < numerator`. Checked against Envoy 1.40's admin layer (test/conformance.test.ts).
// https://www.envoyproxy.io/docs/envoy/latest/configuration/operations/runtime#config-runtime-numerics
import { DENOMINATOR_VALUE, type DenominatorType } from '../../envoy-api/envoy-defaults.js';
import type { TypedJson } from '../../envoy-api/proto-json.js';
import type { FractionalPercent } from '../data-plane-config.js';

export type RuntimeValue = number | string | boolean | { readonly numerator?: number; readonly denominator?: string };

/** Runtime values by key, as an RTDS layer or Envoy's admin layer holds them. */
export type RuntimeValues = Readonly<Record<string, RuntimeValue>>;

/** The overrides that take effect, by runtime key. */
export type RuntimeOverrides = ReadonlyMap<string, FractionalPercent>;

function override(value: unknown): FractionalPercent | undefined {
  if (typeof value === 'object' && value !== null) {
    const { numerator = 0, denominator = 'HUNDRED' } = value as { numerator?: unknown; denominator?: unknown };
    const d = typeof denominator === 'string' && Object.hasOwn(DENOMINATOR_VALUE, denominator) ? DENOMINATOR_VALUE[denominator as DenominatorType] : undefined;
    if (typeof numerator !== 'number' || !Number.isInteger(numerator) || numerator < 0 || d === undefined) return undefined;
    return { numerator, denominator: d };
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) return undefined;
  return { numerator: Math.floor(n), denominator: 100 };
}

/** Keeps the values that override a fraction; the rest change nothing, as in Envoy. */
export function runtimeOverrides(values: RuntimeValues): RuntimeOverrides {
  const out = new Map<string, FractionalPercent>();
  for (const [key, value] of Object.entries(values)) {
    const f = override(value);
    if (f) out.set(key, f);
  }
  return out;
}

export function effectiveFraction(overrides: RuntimeOverrides, key: string, fallback: FractionalPercent): FractionalPercent {
  return (key === '' ? undefined : overrides.get(key)) ?? fallback;
}

/** `random` is the request's one random value, shared by every policy and the weighted split. */
export function fractionEnabled(fraction: FractionalPercent, random: number): boolean {
  return random % fraction.denominator < fraction.numerator;
}

/** An RTDS layer's entries (proto3 JSON of its Struct) as runtime values; entries no rule reads are left out. */
export function runtimeValuesFromLayer(layer: Readonly<Record<string, unknown>>): RuntimeValues {
  const out: Record<string, RuntimeValue> = {};
  for (const [k, v] of Object.entries(layer)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const o = v as { numerator?: unknown; denominator?: unknown };
      out[k] = {
        ...(typeof o.numerator === 'number' ? { numerator: o.numerator } : {}),
        ...(typeof o.denominator === 'string' ? { denominator: o.denominator } : {}),
      };
    }
  }
  return out;
}

/** Runtime (RTDS) layers merged in order, a later layer winning as in Envoy's layered runtime, as runtime values. */
export function runtimeValuesFromLayers(layers: readonly TypedJson[]): RuntimeValues {
  const merged: Record<string, unknown> = {};
  for (const l of layers) {
    if (typeof l.layer === 'object' && l.layer !== null && !Array.isArray(l.layer)) Object.assign(merged, l.layer);
  }
  return runtimeValuesFromLayer(merged);
}
