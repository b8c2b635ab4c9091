// Real etcd in tests (Debian's etcd-server): a missing etcd fails the test in CI and skips it, loudly,
// elsewhere. Running the cluster is src/sandbox/etcd-process.ts, shared with the benchmarks.
import type { TestContext } from 'node:test';
import { findEtcd } from '../../src/sandbox/etcd-process.js';
import { requireInstalled } from './installed.js';

/** The etcd binary, or undefined after marking the test skipped (never in CI, where it fails). */
export function requireEtcd(t: TestContext): string | undefined {
  return requireInstalled(t, findEtcd(), 'etcd not found at /usr/bin/etcd (Debian package etcd-server; .ci/run installs it) and ETCD_BIN is not set', 'etcd');
}
