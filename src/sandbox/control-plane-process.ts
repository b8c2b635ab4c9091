// `shadowplane serve` as a child process, as an operator runs a replica of a fleet: for the tests
// that kill one (SIGKILL, a crash) and the benchmarks that run several. Its admin endpoint answers
// once it listens; whether it serves a config yet is /readyz.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';
import { freePort } from './ports.js';
import { sleep, waitFor } from './wait.js';

export interface ControlPlaneProcess {
  readonly name: string;
  readonly process: ChildProcess;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** `http://127.0.0.1:ADMIN`. */
  readonly admin: string;
  /** What it printed (its JSON log lines). */
  log(): string;
  /** SIGKILL: the replica dies as in a crash, its streams cut without a goodbye. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export interface ControlPlaneProcessOptions {
  readonly name: string;
  /** --config: a file or an etcd:// URL. */
  readonly config: string;
  readonly tokenFile?: string;
  readonly logLevel?: string;
  readonly xdsPort?: number;
  readonly adminPort?: number;
}

export async function startControlPlaneProcess(o: ControlPlaneProcessOptions): Promise<ControlPlaneProcess> {
  const xdsPort = o.xdsPort ?? (await freePort());
  const adminPort = o.adminPort ?? (await freePort());
  const args = ['serve', '--config', o.config, '--xds', `127.0.0.1:${xdsPort}`, '--admin', `127.0.0.1:${adminPort}`, '--log-level', o.logLevel ?? 'info'];
  if (o.tokenFile) args.push('--admin-token-file', o.tokenFile);
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const admin = `http://127.0.0.1:${adminPort}`;
  const p: ControlPlaneProcess = {
    name: o.name,
    process: child,
    xdsPort,
    adminPort,
    admin,
    log: () => log,
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await waitFor(`${o.name} admin answering`, async () => {
      if (gone()) throw new Error(`${o.name} exited (${child.exitCode ?? child.signalCode}):\n${log}`);
      return (await fetch(`${admin}/healthz`).catch(() => undefined))?.ok === true;
    }, 30_000, 50);
  } catch (e) {
    await p.stop();
    throw e;
  }
  return p;
}
