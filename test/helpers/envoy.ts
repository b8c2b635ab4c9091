// Real Envoy in tests: a missing Envoy fails the test in CI and skips it, loudly, elsewhere. Finding,
// starting and stopping Envoy is src/sandbox/envoy-process.ts, shared with the sandbox and the benchmarks.
import type { TestContext } from 'node:test';
import { findEnvoy } from '../../src/sandbox/envoy-process.js';

/** The Envoy binary, or undefined after marking the test skipped (never in CI, where it fails). */
export function requireEnvoy(t: TestContext): string | undefined {
  const bin = findEnvoy();
  if (bin) return bin;
  const why = 'real Envoy not found in .venv/bin/envoy (run `npm run setup:envoy`) and ENVOY_BIN is not set';
  if (process.env.CI) throw new Error(`${why}; CI must run Envoy tests`);
  process.stderr.write(`\n*** SKIPPED: ${t.name}: ${why} ***\n\n`);
  t.skip(why);
  return undefined;
}
