// Tests that need a real program (Envoy, etcd): when it is missing, CI fails the test, and
// elsewhere the test is skipped, loudly.
import type { TestContext } from 'node:test';

/** `bin`, or undefined after marking the test skipped (never in CI, where it throws). */
export function requireInstalled(t: TestContext, bin: string | undefined, why: string, what: string): string | undefined {
  if (bin) return bin;
  if (process.env.CI) throw new Error(`${why}; CI must run ${what} tests`);
  process.stderr.write(`\n*** SKIPPED: ${t.name}: ${why} ***\n\n`);
  t.skip(why);
  return undefined;
}
