// Data path: wrk against the TypeScript engine, nginx (`mirror` directive) and Envoy configured by
// shadowplane, each with one worker, in front of the same loopback backends, in five cases: no mirror,
// a healthy mirror, a mirror that answers after 1 s, a refused mirror and a mirror that accepts and
// never answers. Every run is bounded by wrk's duration.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { rssMiB } from './proc-stats.js';
import { startEnvoy } from '../src/sandbox/envoy-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { freePort } from './util.js';

export const CASES = ['no mirror', 'healthy mirror', 'mirror answers after 1 s', 'mirror refuses connections', 'mirror never answers'] as const;
export type Case = (typeof CASES)[number];
export const PROXIES = ['shadowplane engine', 'nginx mirror', 'Envoy (via shadowplane)'] as const;
export type ProxyName = (typeof PROXIES)[number];

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

export interface DatapathRow extends WrkResult {
  readonly proxy: ProxyName;
  readonly case: Case;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly seconds: number;
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

/** The loopback upstreams every proxy uses. */
interface Upstreams {
  primary: number;
  healthyMirror: number;
  slowMirror: number;
  refused: number;
  blackhole: number;
  close(): Promise<void>;
}

async function startUpstreams(dir: string): Promise<Upstreams & { nginx: ChildProcess }> {
  const [primary, healthyMirror, slowMirror, refused, blackhole] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  // nginx serves the fast upstreams, so they are never the bottleneck.
  const conf = path.join(dir, 'upstreams.conf');
  await writeFile(
    conf,
    `daemon off; worker_processes 1; pid ${dir}/upstreams.pid; error_log ${dir}/upstreams.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${primary}; location / { return 200 "primary\\n"; } }
  server { listen 127.0.0.1:${healthyMirror}; location / { return 200 "mirror\\n"; } }
}
`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  const slow: Server = createHttpServer((req, res) => {
    req.resume();
    setTimeout(() => res.end('slow\n'), 1000);
  });
  slow.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => slow.listen(slowMirror, '127.0.0.1', r));
  const held = new Set<Socket>();
  const hole: TcpServer = createTcpServer((s) => {
    held.add(s);
    s.pause(); // accept, never read, never answer
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => hole.listen(blackhole, '127.0.0.1', 8192, r));
  await waitFor('upstreams', async () => (await fetch(`http://127.0.0.1:${primary}/`).catch(() => undefined))?.ok === true, 10_000, 5);
  return {
    nginx,
    primary,
    healthyMirror,
    slowMirror,
    refused,
    blackhole,
    async close() {
      nginx.kill('SIGQUIT');
      slow.closeAllConnections();
      slow.close();
      for (const s of held) s.destroy();
      hole.close();
      await sleep(200);
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
      return u.blackhole;
  }
}

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

function nginxConfig(dir: string, listen: number, u: Upstreams, c: Case): string {
  const m = mirrorPort(u, c);
  return `daemon off; worker_processes 1; pid ${dir}/proxy.pid; error_log ${dir}/proxy.err crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
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

async function startProxy(name: ProxyName, dir: string, listen: number, u: Upstreams, c: Case, envoyBin: string): Promise<RunningProxy> {
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const ch of children) ch.kill(name === 'nginx mirror' ? 'SIGQUIT' : 'SIGTERM');
    await sleep(300);
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  };
  const config = path.join(dir, 'shadowplane.yaml');
  await writeFile(config, shadowplaneConfig(listen, u, c));
  const serve = (extra: string[], xds: number, admin: number): ChildProcess =>
    spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', config, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--log-level', 'error', '--no-watch', ...extra], { stdio: 'ignore' });
  if (name === 'shadowplane engine') {
    const ch = serve(['--data-plane', 'builtin'], await freePort(), await freePort());
    children.push(ch);
    await waitFor('engine listening', async () => (await fetch(`http://127.0.0.1:${listen}/`).catch(() => undefined))?.ok === true, 30_000, 50);
    return { pids: () => [ch.pid!], stop };
  }
  if (name === 'nginx mirror') {
    const conf = path.join(dir, 'proxy.conf');
    await writeFile(conf, nginxConfig(dir, listen, u, c));
    const ch = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
    children.push(ch);
    await waitFor('nginx listening', async () => (await fetch(`http://127.0.0.1:${listen}/`).catch(() => undefined))?.ok === true, 30_000, 50);
    const workers = (): number[] =>
      spawnSync('pgrep', ['-P', String(ch.pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map(Number);
    return { pids: () => [ch.pid!, ...workers()], stop };
  }
  const [xds, admin, envoyAdmin] = [await freePort(), await freePort(), await freePort()];
  const cp = serve([], xds, admin);
  children.push(cp);
  const bootstrap = path.join(dir, 'envoy.yaml');
  await writeFile(bootstrap, formatDocument(adsBootstrap({ xds: `127.0.0.1:${xds}`, nodeId: 'bench-envoy', nodeCluster: 'bench', adminPort: envoyAdmin }), 'yaml'));
  await waitFor('control plane', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true, 30_000, 50);
  const envoy = await startEnvoy(envoyBin, { bootstrapFile: bootstrap, adminPort: envoyAdmin, baseId: 61, logLevel: 'error', args: ['--concurrency', '1'] });
  children.push(envoy.process);
  await waitFor('Envoy listening', async () => (await fetch(`http://127.0.0.1:${listen}/`).catch(() => undefined))?.ok === true, 30_000, 50);
  return { pids: () => [envoy.process.pid!], stop };
}

function rssOf(pids: number[]): number {
  return pids.reduce((a, p) => a + (Number.isNaN(rssMiB(p)) ? 0 : rssMiB(p)), 0);
}

export async function runDatapath(o: { envoy: string; seconds: number; soakSeconds: number; connections: number; log: (s: string) => void }): Promise<DatapathRow[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-datapath-'));
  const u = await startUpstreams(dir);
  const rows: DatapathRow[] = [];
  try {
    for (const proxy of PROXIES) {
      for (const c of CASES) {
        const listen = await freePort();
        const p = await startProxy(proxy, dir, listen, u, c, o.envoy);
        try {
          // The engine's memory goal is measured over a longer soak with a slow or dead mirror.
          const seconds = proxy === 'shadowplane engine' && (c === 'mirror answers after 1 s' || c === 'mirror never answers') ? o.soakSeconds : o.seconds;
          spawnSync('wrk', ['-t1', `-c${o.connections}`, '-d2s', `http://127.0.0.1:${listen}/`], { encoding: 'utf8' }); // warm-up
          const rssStart = rssOf(p.pids());
          const wrk = spawnSync('wrk', ['-t1', `-c${o.connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${listen}/`], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
          const rssEnd = rssOf(p.pids());
          const r = parseWrk(wrk.stdout);
          rows.push({ proxy, case: c, ...r, rssStartMiB: rssStart, rssEndMiB: rssEnd, seconds });
          o.log(`${proxy} / ${c}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, RSS ${rssStart.toFixed(0)}→${rssEnd.toFixed(0)} MiB`);
        } finally {
          await p.stop();
        }
      }
    }
  } finally {
    await u.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
