// Real Envoy in tests: a missing Envoy fails the test in CI and skips it, loudly, elsewhere. Finding,
// starting and stopping Envoy is src/sandbox/envoy-process.ts, shared with the sandbox and the benchmarks.
import type { TestContext } from 'node:test';
import { findEnvoy } from '../../src/sandbox/envoy-process.js';
import { requireInstalled } from './installed.js';

/** The Envoy binary, or undefined after marking the test skipped (never in CI, where it fails). */
export function requireEnvoy(t: TestContext): string | undefined {
  return requireInstalled(t, findEnvoy(), 'real Envoy not found in .venv/bin/envoy (run `npm run setup:envoy`) and ENVOY_BIN is not set', 'Envoy');
}
