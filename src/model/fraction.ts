// Mirror sampling as Envoy's FractionalPercent, with the smallest exact denominator so the rendered
// resource reads the way a person would write it (50% → 50/HUNDRED, 0.01% → 1/TEN_THOUSAND).
import { DENOMINATOR_VALUE, type DenominatorType } from '../envoy-api/envoy-defaults.js';
import type { Fraction } from './types.js';

/** Millionths per unit of each denominator: HUNDRED 10 000, TEN_THOUSAND 100, MILLION 1. */
const PER_MILLION: Readonly<Record<DenominatorType, number>> = {
  HUNDRED: DENOMINATOR_VALUE.MILLION / DENOMINATOR_VALUE.HUNDRED,
  TEN_THOUSAND: DENOMINATOR_VALUE.MILLION / DENOMINATOR_VALUE.TEN_THOUSAND,
  MILLION: 1,
};

/** Percent with at most four decimals (checked by config validation) → smallest exact fraction. */
export function fractionFromPercent(percent: number): Fraction {
  return fromMillionths(Math.round(percent * 10_000));
}

/** Any fraction (e.g. seed 003's 500000/MILLION) → the same value with the smallest exact denominator. */
export function normalizeFraction(f: Fraction): Fraction {
  return fromMillionths(f.numerator * PER_MILLION[f.denominator]);
}

function fromMillionths(millionths: number): Fraction {
  if (millionths % PER_MILLION.HUNDRED === 0) return { numerator: millionths / PER_MILLION.HUNDRED, denominator: 'HUNDRED' };
  if (millionths % PER_MILLION.TEN_THOUSAND === 0) {
    return { numerator: millionths / PER_MILLION.TEN_THOUSAND, denominator: 'TEN_THOUSAND' };
  }
  return { numerator: millionths, denominator: 'MILLION' };
}

/** The fraction as a percentage, for messages and the data path's sampling. */
export function fractionToPercent(f: Fraction): number {
  return (f.numerator * PER_MILLION[f.denominator]) / 10_000;
}
