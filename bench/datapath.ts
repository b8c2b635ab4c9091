// Data path: wrk against the TypeScript engine, nginx (`mirror` directive) and Envoy configured by
// shadowplane, at 1 and 2 workers each (engine: `serve --data-plane builtin --workers N`; nginx:
// `worker_processes N`; Envoy: `--concurrency N`), in front of the same loopback upstreams, in five
// cases: no mirror, a healthy mirror, a mirror that answers after 1 s, one that accepts connections
// and never answers, and one that refuses them. Every peer is a private process of this run (its own
// config, pid file and prefix in a temp dir, loopback ports); every run is bounded by wrk's duration.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { envoyVersion, startEnvoy } from '../src/sandbox/envoy-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { rssMiB } from './proc-stats.js';
import { freePort } from './util.js';

export const CASES = ['no mirror', 'healthy mirror', 'mirror answers after 1 s', 'mirror never answers', 'mirror refuses connections'] as const;
export type Case = (typeof CASES)[number];
/** The cases a slow or dead mirror makes: each must cost the primary nothing against a healthy mirror. */
export const BAD_MIRRORS = ['mirror answers after 1 s', 'mirror never answers', 'mirror refuses connections'] as const satisfies readonly Case[];
export const PROXIES = ['shadowplane engine', 'nginx mirror', 'Envoy (via shadowplane)'] as const;
export type ProxyName = (typeof PROXIES)[number];

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** One proxy in one case: the medians over its rounds (req/s, p50, p99), errors summed. */
export interface DatapathRow extends WrkResult {
  readonly proxy: ProxyName;
  readonly case: Case;
  readonly workers: number;
  /** wrk's threads and connections. */
  readonly threads: number;
  readonly connections: number;
  /** Each round's req/s and p99, in order. */
  readonly rounds: ReadonlyArray<{ readonly rps: number; readonly p99Ms: number }>;
  /** The proxy's processes together (the engine's primary and workers, nginx's master and workers), over the last round. */
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssPeakMiB: number;
  /** Of each round. */
  readonly seconds: number;
}

/** The engine under one case without a pause, for its memory: RSS at the start, the end and the peak. */
export interface SoakRow extends WrkResult {
  readonly proxy: ProxyName;
  readonly case: Case;
  readonly workers: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssPeakMiB: number;
  readonly seconds: number;
}

/** nginx: NGINX_BIN, the host's, or the one scripts/setup-bench.sh unpacked into .bench/. */
export function findNginx(): string {
  const candidates = [process.env.NGINX_BIN, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'nginx')), '/usr/sbin/nginx', path.join(REPO_ROOT, '.bench/nginx/usr/sbin/nginx')];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('no nginx: run scripts/setup-bench.sh (as root), or set NGINX_BIN');
  return found;
}

function toMs(v: string, unit: string): number {
  return Number(v) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;
}

export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = errs ? errs.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
  return { rps, p50Ms: pct('50'), p99Ms: pct('99'), non2xx, errors };
}

/** wrk as a child process (never spawnSync: the benchmark's own event loop keeps running), killed if it overruns. */
function wrk(args: readonly string[], seconds: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The loopback upstreams every proxy uses. */
interface Upstreams {
  readonly primary: number;
  readonly healthyMirror: number;
  readonly slowMirror: number;
  readonly refused: number;
  readonly silentMirror: number;
  close(): Promise<void>;
}

/**
 * nginx's temp folders inside the run's own dir: a binary unpacked from Debian's package is built
 * with /var/lib/nginx/…, which only an installed package creates (and the host's must not be used).
 */
const nginxTempPaths = (dir: string, name: string): string =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${name}-${t};`).join(' ');

async function startUpstreams(dir: string, nginx: string, workers: number): Promise<Upstreams> {
  const [primary, healthyMirror, refused] = [await freePort(), await freePort(), await freePort()];
  // nginx serves the fast upstreams, so they are never the bottleneck.
  const conf = path.join(dir, 'upstreams.conf');
  await writeFile(
    conf,
    `daemon off; worker_processes ${workers}; pid ${dir}/upstreams.pid; error_log ${dir}/upstreams.err warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; ${nginxTempPaths(dir, 'upstreams')}
  server { listen 127.0.0.1:${primary}; location / { return 200 "primary\\n"; } }
  server { listen 127.0.0.1:${healthyMirror}; location / { return 200 "mirror\\n"; } }
}
`,
  );
  const upstream = spawn(nginx, ['-e', `${dir}/upstreams.err`, '-c', conf, '-p', dir], { stdio: 'ignore' });
  const peers = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench/mirror-peers.ts')], { stdio: ['pipe', 'pipe', 'inherit'], cwd: REPO_ROOT });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: peers.stdout! }).once('line', resolve);
    peers.once('exit', (code) => reject(new Error(`bench/mirror-peers.ts exited with ${code}`)));
  });
  const { slow, silent } = JSON.parse(line) as { slow: number; silent: number };
  await waitFor('upstreams', async () => (await fetch(`http://127.0.0.1:${primary}/`).catch(() => undefined))?.ok === true, 10_000, 5);
  return {
    primary,
    healthyMirror,
    slowMirror: slow,
    refused,
    silentMirror: silent,
    async close() {
      upstream.kill('SIGQUIT');
      peers.stdin!.end();
      await sleep(300);
    },
  };
}

function mirrorPort(u: Upstreams, c: Case): number | undefined {
  switch (c) {
    case 'no mirror':
      return undefined;
    case 'healthy mirror':
      return u.healthyMirror;
    case 'mirror answers after 1 s':
      return u.slowMirror;
    case 'mirror refuses connections':
      return u.refused;
    case 'mirror never answers':
      return u.silentMirror;
  }
}

/** The mirror cluster has the default circuit breakers (1024 requests in flight, 1024 pending). */
function shadowplaneConfig(listen: number, u: Upstreams, c: Case): string {
  const m = mirrorPort(u, c);
  return `listeners:
  - name: bench
    address: 127.0.0.1:${listen}
    virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
          - name: all
            match: { prefix: / }
            cluster: primary
${m ? '            mirrors: [{ cluster: mirror }]' : ''}
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${u.primary}"] }
${m ? `  - { name: mirror, endpoints: ["127.0.0.1:${m}"], connect_timeout: 1s, max_stream_duration: 2s }` : ''}
`;
}

function nginxConfig(dir: string, listen: number, u: Upstreams, c: Case, workers: number): string {
  const m = mirrorPort(u, c);
  return `daemon off; worker_processes ${workers}; pid ${dir}/proxy.pid; error_log ${dir}/proxy.err crit;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; ${nginxTempPaths(dir, 'proxy')}
  upstream primary { server 127.0.0.1:${u.primary}; keepalive 64; }
  ${m ? `upstream mirror { server 127.0.0.1:${m}; keepalive 64; }` : ''}
  server {
    listen 127.0.0.1:${listen};
    location / {
      ${m ? 'mirror /mirror; mirror_request_body on;' : ''}
      proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_pass http://primary;
    }
    location = /mirror {
      internal;
      proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_connect_timeout 1s; proxy_read_timeout 2s; proxy_send_timeout 2s;
      proxy_pass http://mirror$request_uri;
    }
  }
}
`;
}

interface RunningProxy {
  readonly pids: () => number[];
  stop(): Promise<void>;
}

function childPids(pid: number): number[] {
  return spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
}

interface ProxyRun {
  readonly dir: string;
  readonly listen: number;
  readonly upstreams: Upstreams;
  readonly case: Case;
  readonly workers: number;
  readonly envoy: string;
  readonly nginx: string;
  /** Extra node arguments for the engine (`--cpu-prof`, …): SHADOWPLANE_BENCH_NODE_ARGS. */
  readonly nodeArgs: readonly string[];
}

async function startProxy(name: ProxyName, r: ProxyRun): Promise<RunningProxy> {
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    // SIGINT: the engine drains and (when profiling) writes its profiles; nginx's graceful stop is SIGQUIT.
    for (const ch of children) ch.kill(name === 'nginx mirror' ? 'SIGQUIT' : 'SIGINT');
    const deadline = Date.now() + 10_000;
    while (children.some((ch) => ch.exitCode === null && ch.signalCode === null) && Date.now() < deadline) await sleep(100);
    for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
  };
  const listening = (what: string): Promise<void> => waitFor(what, async () => (await fetch(`http://127.0.0.1:${r.listen}/`).catch(() => undefined))?.ok === true, 30_000, 50);
  const config = path.join(r.dir, 'shadowplane.yaml');
  await writeFile(config, shadowplaneConfig(r.listen, r.upstreams, r.case));
  const serve = (extra: string[], xds: number, admin: number): ChildProcess =>
    spawn(
      process.execPath,
      [...r.nodeArgs, path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', config, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--log-level', 'error', '--no-watch', ...extra],
      { stdio: 'ignore', cwd: r.dir },
    );
  if (name === 'shadowplane engine') {
    const ch = serve(['--data-plane', 'builtin', '--workers', String(r.workers)], await freePort(), await freePort());
    children.push(ch);
    await listening('engine listening');
    return { pids: () => [ch.pid!, ...childPids(ch.pid!)], stop };
  }
  if (name === 'nginx mirror') {
    const conf = path.join(r.dir, 'proxy.conf');
    await writeFile(conf, nginxConfig(r.dir, r.listen, r.upstreams, r.case, r.workers));
    const ch = spawn(r.nginx, ['-e', `${r.dir}/proxy.err`, '-c', conf, '-p', r.dir], { stdio: 'ignore' });
    children.push(ch);
    await listening('nginx listening');
    return { pids: () => [ch.pid!, ...childPids(ch.pid!)], stop };
  }
  const [xds, admin, envoyAdmin] = [await freePort(), await freePort(), await freePort()];
  const cp = serve([], xds, admin);
  children.push(cp);
  const bootstrap = path.join(r.dir, 'envoy.yaml');
  await writeFile(bootstrap, formatDocument(adsBootstrap({ xds: `127.0.0.1:${xds}`, nodeId: 'bench-envoy', nodeCluster: 'bench', adminPort: envoyAdmin }), 'yaml'));
  await waitFor('control plane', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true, 30_000, 50);
  // A base id of its own: Envoy's shared memory never meets another Envoy's on this host.
  const envoy = await startEnvoy(r.envoy, { bootstrapFile: bootstrap, adminPort: envoyAdmin, baseId: 61_000 + (process.pid % 1000), logLevel: 'error', args: ['--concurrency', String(r.workers)] });
  children.push(envoy.process);
  await listening('Envoy listening');
  return { pids: () => [envoy.process.pid!], stop };
}

function rssOf(pids: readonly number[]): number {
  return pids.reduce((a, p) => {
    try {
      return a + rssMiB(p);
    } catch {
      return a; // gone
    }
  }, 0);
}

export interface DatapathOptions {
  readonly envoy: string;
  readonly workers: readonly number[];
  /** Each run of a proxy in a case. */
  readonly seconds: number;
  /**
   * Runs of each case, taken in turns (case 1, 2, …, 5, then again), for the engine and Envoy at one
   * worker, whose figures the goals compare: the medians stand against a machine shared with other
   * work, whose load comes and goes within a minute.
   */
  readonly rounds: number;
  /** The engine's memory soaks (one worker, healthy and bad mirrors): the goal is over 60 s. */
  readonly soakSeconds: number;
  readonly proxies?: readonly ProxyName[];
  readonly cases?: readonly Case[];
  readonly log: (s: string) => void;
}

/** wrk's load at N workers: one thread and 32 connections per worker. */
function load(workers: number): { threads: number; connections: number } {
  return { threads: workers, connections: 32 * workers };
}

export interface DatapathResult {
  readonly rows: DatapathRow[];
  readonly soaks: SoakRow[];
  /** The machine's load average (1 min) when the section started: it is shared with other work. */
  readonly loadAverage: number;
  /** The machine and the peers' versions, for the section's own heading line. */
  readonly machine: string;
  readonly started: Date;
}

interface Measured extends WrkResult {
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssPeakMiB: number;
}

/** Starts the proxy, warms it up for 2 s, runs wrk for `seconds` while sampling its RSS every second, and stops it. */
async function measure(proxy: ProxyName, r: Omit<ProxyRun, 'listen'>, seconds: number): Promise<Measured> {
  const listen = await freePort();
  const p = await startProxy(proxy, { ...r, listen });
  try {
    const { threads, connections } = load(r.workers);
    const url = `http://127.0.0.1:${listen}/`;
    await wrk([`-t${threads}`, `-c${connections}`, '-d2s', url], 2); // warm-up
    const rssStart = rssOf(p.pids());
    let rssPeak = rssStart;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(p.pids()))), 1000);
    const out = await wrk([`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url], seconds);
    clearInterval(sampler);
    const rssEnd = rssOf(p.pids());
    return { ...parseWrk(out), rssStartMiB: rssStart, rssEndMiB: rssEnd, rssPeakMiB: Math.max(rssPeak, rssEnd) };
  } finally {
    await p.stop();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function machine(envoy: string): string {
  const wrkVersion = /wrk (?:debian\/)?([\d.]+)/.exec(spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Linux ${os.release()}; node ${process.version}, Envoy ${envoyVersion(envoy)}, nginx ${nginxVersion()}, wrk ${wrkVersion}`;
}

export async function runDatapath(o: DatapathOptions): Promise<DatapathResult> {
  const started = new Date();
  const loadAverage = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-datapath-'));
  const nginx = findNginx();
  const nodeArgs = (process.env.SHADOWPLANE_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const cases = o.cases ?? CASES;
  const rows: DatapathRow[] = [];
  const soaks: SoakRow[] = [];
  try {
    for (const workers of o.workers) {
      const upstreams = await startUpstreams(dir, nginx, workers);
      const run = { dir, upstreams, workers, envoy: o.envoy, nginx, nodeArgs };
      try {
        for (const proxy of o.proxies ?? PROXIES) {
          const rounds = workers === 1 && proxy !== 'nginx mirror' ? o.rounds : 1;
          const runs = new Map<Case, Measured[]>(cases.map((c) => [c, []]));
          for (let round = 1; round <= rounds; round++) {
            for (const c of cases) {
              const m = await measure(proxy, { ...run, case: c }, o.seconds);
              runs.get(c)!.push(m);
              o.log(`${proxy} ×${workers} / ${c}${rounds > 1 ? ` (round ${round}/${rounds})` : ''}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, RSS ${m.rssStartMiB.toFixed(0)}→${m.rssEndMiB.toFixed(0)} MiB (peak ${m.rssPeakMiB.toFixed(0)})`);
            }
          }
          for (const c of cases) {
            const ms = runs.get(c)!;
            const last = ms.at(-1)!;
            rows.push({
              proxy,
              case: c,
              workers,
              ...load(workers),
              rps: median(ms.map((m) => m.rps)),
              p50Ms: median(ms.map((m) => m.p50Ms)),
              p99Ms: median(ms.map((m) => m.p99Ms)),
              non2xx: ms.reduce((n, m) => n + m.non2xx, 0),
              errors: ms.reduce((n, m) => n + m.errors, 0),
              rounds: ms.map((m) => ({ rps: m.rps, p99Ms: m.p99Ms })),
              rssStartMiB: last.rssStartMiB,
              rssEndMiB: last.rssEndMiB,
              rssPeakMiB: last.rssPeakMiB,
              seconds: o.seconds,
            });
          }
          if (proxy === 'shadowplane engine' && workers === 1) {
            for (const c of cases.filter((x) => x !== 'no mirror')) {
              const m = await measure(proxy, { ...run, case: c }, o.soakSeconds);
              soaks.push({ proxy, case: c, workers, ...m, seconds: o.soakSeconds });
              o.log(`${proxy} ×${workers} / ${c} (${o.soakSeconds} s soak): ${m.rps.toFixed(0)} req/s, p99 ${m.p99Ms.toFixed(2)} ms, RSS ${m.rssStartMiB.toFixed(0)}→${m.rssEndMiB.toFixed(0)} MiB (peak ${m.rssPeakMiB.toFixed(0)})`);
            }
          }
        }
      } finally {
        await upstreams.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, soaks, loadAverage, machine: machine(o.envoy), started };
}

/** `nginx -v`'s version of the nginx the benchmark runs. */
export function nginxVersion(): string {
  try {
    const r = spawnSync(findNginx(), ['-v'], { encoding: 'utf8' });
    return /nginx\/([\d.]+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
  } catch {
    return 'not found';
  }
}
