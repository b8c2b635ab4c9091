import assert from 'node:assert/strict';

/**
 * n draws with probability p land within `sigmas` standard deviations of n·p: at 4.5σ a correct
 * implementation fails about once in 150,000 runs.
 */
export function assertBinomial(hits: number, n: number, p: number, what: string, sigmas = 4.5): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(hits - n * p) <= sigmas * sd, `${what}: ${hits}/${n}, expected ${n * p} ± ${(sigmas * sd).toFixed(0)}`);
}
