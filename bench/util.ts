// The benchmarks' own helper; waiting, sleeping, the repo root, free ports and Envoy come from the
// support the sandbox and the tests use (src/sandbox, test/helpers/ports.ts).
export { freePort } from '../test/helpers/ports.js';

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
