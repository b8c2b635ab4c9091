// Push fan-out: one real Envoy plus N simulated proxies on one xDS server holding a 1k-route config;
// each edit moves one cluster's endpoint. The simulated proxies run in child processes of their own
// (sim-proxies.ts), so the server's CPU is the server's alone. The server is shadowplane (the edit is
// a PUT /config of the YAML: parse, check, compile, push) or, as the reference, go-control-plane
// (bench/go-control-plane: handed the new snapshot — every edit's compiled snapshot is uploaded and
// decoded before the run, and the edit is a POST that only calls SetSnapshot with it). Measures the
// time from the request until every stream has the new endpoints (each ACKs right away), the
// server's CPU per edit and stream, the resource bytes the streams receive per edit, and the
// server's RSS idle and with every stream held.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfigText } from '../src/config/load.js';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { buildModel } from '../src/model/build.js';
import { startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { SnapshotCache } from '../src/xds/snapshot-cache.js';
import { snapshotResources } from '../src/xds/snapshot.js';
import { generateConfig } from './gen-config.js';
import { cpuSeconds, rssMiB } from './proc-stats.js';
import { wallMs, type ChildMessage, type Connection, type Mode, type ParentMessage } from './sim-proxies.js';
import { freePort, percentile } from './util.js';

export type ServerKind = 'shadowplane' | 'go-control-plane';

export interface FanoutOptions {
  readonly envoy: string;
  readonly server: ServerKind;
  /** The go-control-plane reference binary (buildReference); needed for that server. */
  readonly reference?: string;
  readonly mode: Mode;
  readonly connection: Connection;
  /** Simulated streams (Envoy comes on top). */
  readonly streams: number;
  readonly edits: number;
  readonly routes: number;
}

export interface FanoutResult {
  readonly server: ServerKind;
  readonly mode: Mode;
  readonly connection: Connection;
  readonly streams: number;
  readonly edits: number;
  /** Per edit, PUT → the last simulated stream has it; p50/p99/max over the edits. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Per edit, PUT → the first stream has it (what one proxy waits). */
  readonly firstP50Ms: number;
  /** Per edit, PUT → real Envoy routes to the moved endpoint (or, with `envoyProbe` 'stats', its update_success stat moved). */
  readonly envoyP50Ms: number;
  readonly envoyProbe: 'traffic' | 'stats';
  readonly rssIdleMiB: number;
  readonly rssMiB: number;
  readonly rssPerStreamKiB: number;
  readonly cpuMsPerEdit: number;
  readonly cpuMsPerEditPerStream: number;
  /** Resource bytes all simulated streams received per edit. */
  readonly bytesPerEdit: number;
}

const TOKEN = 'bench-token';
/** Child processes holding the simulated streams: one per core. */
const CLIENT_PROCESSES = 2;

/** Builds the go-control-plane reference server (its modules come from the Go module proxy) into `dir`. */
export function buildReference(dir: string): string {
  const out = path.join(dir, 'go-control-plane-reference');
  const r = spawnSync('go', ['build', '-o', out, '.'], { cwd: path.join(REPO_ROOT, 'bench/go-control-plane'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`go build of bench/go-control-plane failed: ${r.error?.message ?? r.stderr}`);
  return out;
}

/** A child process of simulated proxies, spoken to one message at a time. */
export class SimProcess {
  private readonly child: ChildProcess;
  private waiting: ((m: ChildMessage) => void) | undefined;

  constructor() {
    this.child = fork(path.join(REPO_ROOT, 'bench/sim-proxies.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: ChildMessage) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(m);
    });
  }

  ask(m: ParentMessage): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      this.waiting = (r) => ('error' in r ? reject(new Error(r.error)) : resolve(r));
      this.child.send(m);
    });
  }

  stop(): void {
    if (this.child.connected) this.child.send({ cmd: 'stop' } satisfies ParentMessage);
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}

/** The server under test: where it serves ADS, and how an edit reaches it. */
interface Server {
  readonly process: ChildProcess;
  readonly xdsPort: number;
  /** Sends edit `k` (0: the first config); resolves when the server has taken it. */
  edit(k: number): Promise<void>;
}

async function startShadowplane(dir: string, config: (k: number) => string): Promise<Server> {
  const [xds, admin] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'bench.yaml');
  const tokenFile = path.join(dir, 'token');
  await writeFile(configFile, config(0));
  await writeFile(tokenFile, TOKEN);
  // SHADOWPLANE_BENCH_CPU_PROF=DIR writes the control plane's CPU profile there (open it in Chrome DevTools).
  const prof = process.env.SHADOWPLANE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SHADOWPLANE_BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...prof, path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', configFile, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--admin-token-file', tokenFile, '--log-level', 'warn', '--no-watch'], { stdio: 'ignore' });
  await waitFor('control plane ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true, 30_000, 5);
  return {
    process: child,
    xdsPort: xds,
    async edit(k) {
      const res = await fetch(`http://127.0.0.1:${admin}/config`, { method: 'PUT', body: config(k), headers: { authorization: `Bearer ${TOKEN}` } });
      if (!res.ok) throw new Error(`PUT /config: ${res.status} ${await res.text()}`);
    },
  };
}

/** Each config compiled to what every node is served, as JSON: what go-control-plane is handed. */
function compiledSnapshot(text: string): string {
  const loaded = parseConfigText(text, 'bench.yaml');
  if (!loaded.ok) throw new Error('bench config rejected');
  const cache = new SnapshotCache();
  cache.publish(buildModel(loaded.config));
  return JSON.stringify(snapshotResources(cache.snapshotFor(undefined)!));
}

async function startReference(bin: string, snapshots: readonly string[]): Promise<Server> {
  const child = spawn(bin, ['-xds', '127.0.0.1:0', '-http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`go-control-plane reference exited (${code})`)));
  });
  const ports = JSON.parse(first) as { xds: number; http: number };
  // Every snapshot is uploaded and decoded now, before anything is timed (or idle RSS read): an edit
  // hands go-control-plane a snapshot it already holds, as the 2–4 ms reference was measured.
  for (const [k, body] of snapshots.entries()) {
    const res = await fetch(`http://127.0.0.1:${ports.http}/snapshot/${k}`, { method: 'PUT', body });
    if (!res.ok) throw new Error(`PUT /snapshot/${k}: ${res.status} ${await res.text()}`);
  }
  const server: Server = {
    process: child,
    xdsPort: ports.xds,
    async edit(k) {
      const res = await fetch(`http://127.0.0.1:${ports.http}/apply/${k}`, { method: 'POST' });
      if (!res.ok) throw new Error(`POST /apply/${k}: ${res.status} ${await res.text()}`);
    },
  };
  await server.edit(0);
  return server;
}

/**
 * When Envoy has an edit, told by its traffic: every port cluster c0 moves to (20000 + k) gets a
 * backend that answers with its port, and a request loop through Envoy's listener to a route of c0
 * sees the new port as soon as Envoy's workers route to it. Requests run on Envoy's workers, so the
 * probe does not hold up Envoy's main thread, where xDS is applied (polling its admin would: a
 * filtered /stats on this config takes ~15 ms there). Undefined when a port is taken: the caller
 * falls back to the stats poll.
 */
async function startEnvoyProbe(edits: number, listenerPort: number): Promise<{ waitForPort(port: number, deadlineMs: number): Promise<void>; close(): Promise<void> } | undefined> {
  const servers: HttpServer[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  for (let k = 0; k <= edits; k++) {
    const port = 20_000 + k;
    const server = createServer((req, res) => {
      req.resume();
      res.end(String(port));
    });
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      await close();
      return undefined;
    }
    servers.push(server);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (): Promise<string> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: listenerPort, path: '/r0/probe', agent, headers: { host: 'vh0.example' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
        res.on('error', () => resolve(''));
      });
      req.on('error', () => resolve(''));
      req.end();
    });
  return {
    async waitForPort(port, deadlineMs) {
      const until = Date.now() + deadlineMs;
      // One request a millisecond: a tight loop would take CPU from the server being measured.
      while ((await get()) !== String(port)) {
        if (Date.now() > until) throw new Error(`Envoy did not route to port ${port} within ${deadlineMs} ms`);
        await sleep(1);
      }
    },
    async close() {
      agent.destroy();
      await close();
    },
  };
}

/** How many endpoint updates Envoy has applied to cluster c0 (the one every edit moves). */
async function envoyUpdates(envoyAdmin: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${envoyAdmin}/stats?filter=^cluster\\.c0\\.update_success$`)).text();
  return Number(/update_success: (\d+)/.exec(text)?.[1] ?? 0);
}

export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-fanout-'));
  // Every version listens where the first did: an edit moves an endpoint and nothing else.
  const listenerPort = await freePort();
  const config = (k: number): string => generateConfig({ routes: o.routes, port: listenerPort, edit: k });
  const sims: SimProcess[] = [];
  let server: Server | undefined;
  let envoy: RunningEnvoy | undefined;
  let probe: Awaited<ReturnType<typeof startEnvoyProbe>>;
  try {
    server =
      o.server === 'shadowplane'
        ? await startShadowplane(dir, config)
        : await startReference(o.reference!, Array.from({ length: o.edits + 1 }, (_, k) => compiledSnapshot(config(k))));
    const pid = server.process.pid!;
    // Idle is what it settles to: V8 gives back the start's garbage some seconds after it.
    await sleep(10_000);
    const rssIdle = rssMiB(pid);

    const envoyAdmin = await freePort();
    const bootstrapFile = path.join(dir, 'envoy.yaml');
    await writeFile(bootstrapFile, formatDocument(adsBootstrap({ xds: `127.0.0.1:${server.xdsPort}`, nodeId: 'envoy-bench', nodeCluster: 'bench', adminPort: envoyAdmin, delta: o.mode === 'delta' }), 'yaml'));
    envoy = await startEnvoy(o.envoy, { bootstrapFile, adminPort: envoyAdmin, baseId: 40 + (o.mode === 'delta' ? 1 : 0), logLevel: 'error' });
    await waitFor('Envoy has endpoints', async () => (await envoyUpdates(envoyAdmin)) > 0, 60_000, 10);
    probe = await startEnvoyProbe(o.edits, listenerPort);
    if (probe) await probe.waitForPort(20_000, 30_000);

    const per = Math.ceil(o.streams / CLIENT_PROCESSES);
    const parts = Array.from({ length: CLIENT_PROCESSES }, (_, i) => ({ first: i * per, count: Math.max(0, Math.min(per, o.streams - i * per)) })).filter((p) => p.count > 0);
    for (const _ of parts) sims.push(new SimProcess());
    const target = `127.0.0.1:${server.xdsPort}`;
    await Promise.all(parts.map((p, i) => sims[i]!.ask({ cmd: 'start', target, mode: o.mode, connection: o.connection, ...p })));
    await sleep(1000);
    const rssConnected = rssMiB(pid);

    const lastMs: number[] = [];
    const firstMs: number[] = [];
    const envoyMs: number[] = [];
    let bytes = 0;
    // The whole loop, idle waits included (the server does nothing then): /proc counts in 10 ms ticks.
    const cpu0 = cpuSeconds(pid);
    for (let k = 1; k <= o.edits; k++) {
      await Promise.all(sims.map((s) => s.ask({ cmd: 'arm' })));
      const envoyBefore = probe ? 0 : await envoyUpdates(envoyAdmin);
      await sleep(50);
      const t0 = wallMs();
      const envoyHas = probe
        ? Promise.all([server.edit(k), probe.waitForPort(20_000 + k, 30_000)]).then(() => wallMs())
        : server.edit(k).then(async () => {
            await waitFor(`edit ${k} applied by Envoy`, async () => (await envoyUpdates(envoyAdmin)) > envoyBefore, 30_000, 1);
            return wallMs();
          });
      const collected = await Promise.all(sims.map((s) => s.ask({ cmd: 'collect', timeoutMs: 60_000 })));
      const times = collected.flatMap((m) => ('times' in m ? m.times : []));
      bytes += collected.reduce((a, m) => a + ('bytes' in m ? m.bytes : 0), 0);
      lastMs.push(Math.max(...times) - t0);
      firstMs.push(Math.min(...times) - t0);
      envoyMs.push((await envoyHas) - t0);
    }
    // Settled: the last ACKs are in (the CPU they cost counts).
    await sleep(200);
    const cpu = cpuSeconds(pid) - cpu0;
    const streams = o.streams + 1;
    return {
      server: o.server,
      mode: o.mode,
      connection: o.connection,
      streams,
      edits: o.edits,
      p50Ms: percentile(lastMs, 50),
      p99Ms: percentile(lastMs, 99),
      maxMs: Math.max(...lastMs),
      firstP50Ms: percentile(firstMs, 50),
      envoyP50Ms: percentile(envoyMs, 50),
      rssIdleMiB: rssIdle,
      rssMiB: rssConnected,
      rssPerStreamKiB: ((rssConnected - rssIdle) * 1024) / streams,
      cpuMsPerEdit: (cpu * 1000) / o.edits,
      cpuMsPerEditPerStream: (cpu * 1000) / o.edits / streams,
      bytesPerEdit: bytes / o.edits,
      envoyProbe: probe ? 'traffic' : 'stats',
    };
  } finally {
    await probe?.close();
    for (const s of sims) s.stop();
    await envoy?.stop();
    const child = server?.process;
    child?.kill('SIGTERM');
    await sleep(process.env.SHADOWPLANE_BENCH_CPU_PROF ? 3000 : 500);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
