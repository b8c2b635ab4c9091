// The sandbox as a user starts it (`shadowplane sandbox`, a child process on the sandbox's fixed
// ports) on a copy of configs/sandbox.yaml in a temp dir, so tests may edit the config.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../../src/sandbox/wait.js';
import { REPO_ROOT } from './repo.js';

export interface Sandbox {
  readonly child: ChildProcess;
  readonly configFile: string;
  output(): string;
  /** Lines a service logged since `mark`. */
  logged(service: string, mark: number): string[];
  stop(): Promise<number | null>;
}

/**
 * The sandbox's ports are fixed (they are what the README prints), so two checkouts testing on one
 * machine take turns: a lock directory holding the owner's pid, taken over when that pid is gone.
 */
const LOCK = path.join(tmpdir(), 'shadowplane-sandbox-ports.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function lockSandboxPorts(): Promise<() => Promise<void>> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(path.join(LOCK, 'pid'), String(process.pid));
      return () => rm(LOCK, { recursive: true, force: true });
    } catch {
      const owner = Number(await readFile(path.join(LOCK, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(owner) && !alive(owner)) await rm(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the sandbox ports stayed locked by ${LOCK} for 10 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The front proxy: the built-in engine, real Envoy, or real Envoy over mutual TLS (`--envoy --mtls`). */
export type SandboxMode = 'builtin' | 'envoy' | 'envoy-mtls';

export async function startSandbox(mode: SandboxMode): Promise<Sandbox> {
  const unlock = await lockSandboxPorts();
  try {
    return await startLocked(mode, unlock);
  } catch (e) {
    await unlock();
    throw e;
  }
}

async function startLocked(mode: SandboxMode, unlock: () => Promise<void>): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-sandbox-'));
  const configFile = path.join(dir, 'sandbox.yaml');
  await copyFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), configFile);
  const args = [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'sandbox', '--config', configFile, ...{ builtin: [], envoy: ['--envoy'], 'envoy-mtls': ['--envoy', '--mtls'] }[mode]];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the sandbox is up', () => out.includes('shadowplane sandbox is up') || child.exitCode !== null, 40_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${out}`);
  }
  assert.equal(child.exitCode, null, out);
  return {
    child,
    configFile,
    output: () => out,
    logged(service, mark) {
      return out
        .slice(mark)
        .split('\n')
        .filter((l) => l.startsWith(`${service.padEnd('service1-mirror'.length)} | `))
        .map((l) => l.slice('service1-mirror'.length + 3));
    },
    async stop() {
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
      if (code === 'timeout') child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      await unlock();
      return code === 'timeout' ? null : code;
    },
  };
}
