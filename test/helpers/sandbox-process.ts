// The sandbox as a user starts it (`shadowplane sandbox`, a child process on the sandbox's fixed
// ports) on a copy of configs/sandbox.yaml in a temp dir, so tests may edit the config.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
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

export async function startSandbox(mode: 'builtin' | 'envoy'): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-sandbox-'));
  const configFile = path.join(dir, 'sandbox.yaml');
  await copyFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), configFile);
  const args = [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'sandbox', '--config', configFile, ...(mode === 'envoy' ? ['--envoy'] : [])];
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
      return code === 'timeout' ? null : code;
    },
  };
}
