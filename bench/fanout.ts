// Push fan-out: one real Envoy plus N simulated proxies (they subscribe and ACK as Envoy does) on one
// control plane serving a 1k-route config; each edit changes one cluster's endpoint. Measures the time
// from the edit (PUT /config) until every stream has ACKed it, server RSS and CPU, and bytes sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeTyped } from '../src/envoy-api/proto-json.js';
import { RTDS_LAYER_NAME } from '../src/envoy-api/metadata.js';
import { resourceReferences } from '../src/envoy-api/resource-references.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import { DeltaClient } from '../src/xds-client/delta-client.js';
import { generateConfig } from './gen-config.js';
import { cpuSeconds, rssMiB } from './proc-stats.js';
import { startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { freePort, percentile } from './util.js';

export interface FanoutResult {
  readonly mode: 'sotw' | 'delta';
  readonly streams: number;
  readonly edits: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly envoyP50Ms: number;
  readonly rssBaseMiB: number;
  readonly rssMiB: number;
  readonly rssPerStreamKiB: number;
  readonly cpuMsPerEditPerStream: number;
  readonly bytesPerEdit: number;
}

const TOKEN = 'bench-token';

/** A simulated proxy: wildcard CDS and LDS, then EDS and RDS by name, like Envoy. */
export class SimProxy {
  lastEdsAt = 0;
  private readonly close: () => void;

  constructor(target: string, id: string, mode: 'sotw' | 'delta') {
    const node = { id, cluster: 'bench' };
    // Which endpoints and routes to ask for, read from clusters and listeners as every xDS client here reads them.
    const decode = (values: ReadonlyArray<{ typeUrl: string; value: Uint8Array }>) => values.map((v) => decodeTyped(v.typeUrl, v.value));
    const eds = (values: ReadonlyArray<{ typeUrl: string; value: Uint8Array }>): readonly string[] => resourceReferences({ clusters: decode(values) }).endpoints;
    const rds = (values: ReadonlyArray<{ typeUrl: string; value: Uint8Array }>): readonly string[] => resourceReferences({ listeners: decode(values) }).routes;
    if (mode === 'sotw') {
      const c: AdsClient = new AdsClient({
        target,
        node,
        onResponse: (r) => {
          if (r.typeUrl === TypeUrl.Cluster) queueMicrotask(() => c.subscribe(TypeUrl.ClusterLoadAssignment, eds(r.resources)));
          if (r.typeUrl === TypeUrl.Listener) queueMicrotask(() => c.subscribe(TypeUrl.RouteConfiguration, rds(r.resources)));
          if (r.typeUrl === TypeUrl.ClusterLoadAssignment) this.lastEdsAt = performance.now();
          return undefined;
        },
      });
      c.start();
      c.subscribe(TypeUrl.Runtime, [RTDS_LAYER_NAME]);
      c.subscribe(TypeUrl.Cluster, []);
      c.subscribe(TypeUrl.Listener, []);
      this.close = () => c.close();
    } else {
      const c: DeltaClient = new DeltaClient(target, node, (r) => {
        if (r.typeUrl === TypeUrl.Cluster) c.subscribe(TypeUrl.ClusterLoadAssignment, eds(r.resources));
        if (r.typeUrl === TypeUrl.Listener) c.subscribe(TypeUrl.RouteConfiguration, rds(r.resources));
        if (r.typeUrl === TypeUrl.ClusterLoadAssignment) this.lastEdsAt = performance.now();
      });
      c.start();
      c.subscribe(TypeUrl.Runtime, [RTDS_LAYER_NAME]);
      c.subscribe(TypeUrl.Cluster, []);
      c.subscribe(TypeUrl.Listener, []);
      this.close = () => c.close();
    }
  }

  stop(): void {
    this.close();
  }
}

async function pushBytes(admin: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  return [...text.matchAll(/^shadowplane_xds_push_bytes_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

async function envoyAckedVersion(admin: number): Promise<number | undefined> {
  const s = (await (await fetch(`http://127.0.0.1:${admin}/status?node=envoy-bench`)).json()) as { proxies: Array<{ types: Record<string, { ackedConfigVersion?: number }> }> };
  return s.proxies[0]?.types.EDS?.ackedConfigVersion;
}

export async function runFanout(o: { envoy: string; streams: number; mode: 'sotw' | 'delta'; edits: number; routes: number }): Promise<FanoutResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-fanout-'));
  const [xds, admin, envoyAdmin] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dir, 'bench.yaml');
  const tokenFile = path.join(dir, 'token');
  await writeFile(configFile, generateConfig({ routes: o.routes, port: await freePort() }));
  await writeFile(tokenFile, TOKEN);
  const children: ChildProcess[] = [];
  const sims: SimProxy[] = [];
  let envoy: RunningEnvoy | undefined;
  try {
    // SHADOWPLANE_BENCH_CPU_PROF=DIR writes the control plane's CPU profile there (open it in Chrome DevTools).
    const prof = process.env.SHADOWPLANE_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SHADOWPLANE_BENCH_CPU_PROF] : [];
    const server = spawn(process.execPath, [...prof, path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', configFile, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--admin-token-file', tokenFile, '--log-level', 'warn', '--no-watch'], { stdio: 'ignore' });
    children.push(server);
    await waitFor('control plane ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true, 30_000, 5);
    const rssBase = rssMiB(server.pid!);

    const bootstrapFile = path.join(dir, 'envoy.yaml');
    await writeFile(bootstrapFile, formatDocument(adsBootstrap({ xds: `127.0.0.1:${xds}`, nodeId: 'envoy-bench', nodeCluster: 'bench', adminPort: envoyAdmin, delta: o.mode === 'delta' }), 'yaml'));
    envoy = await startEnvoy(o.envoy, { bootstrapFile, adminPort: envoyAdmin, baseId: 40 + (o.mode === 'delta' ? 1 : 0), logLevel: 'error' });

    for (let i = 0; i < o.streams; i++) sims.push(new SimProxy(`127.0.0.1:${xds}`, `sim-${i}`, o.mode));
    await waitFor('every simulated proxy has endpoints', () => sims.every((s) => s.lastEdsAt > 0), 120_000, 5);
    await waitFor('Envoy has endpoints', async () => (await envoyAckedVersion(admin)) !== undefined, 60_000, 5);
    await sleep(500);
    const rssConnected = rssMiB(server.pid!);

    const lat: number[] = [];
    const envoyLat: number[] = [];
    let bytes = 0;
    const cpu0 = cpuSeconds(server.pid!);
    for (let k = 1; k <= o.edits; k++) {
      const text = generateConfig({ routes: o.routes, port: 1, edit: k });
      const b0 = await pushBytes(admin);
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${admin}/config`, { method: 'PUT', body: text, headers: { authorization: `Bearer ${TOKEN}` } });
      if (!res.ok) throw new Error(`PUT /config: ${res.status} ${await res.text()}`);
      const { configVersion } = (await res.json()) as { configVersion: number };
      await waitFor(`edit ${k} ACKed by every simulated proxy`, () => sims.every((s) => s.lastEdsAt > t0), 60_000, 5);
      lat.push(Math.max(...sims.map((s) => s.lastEdsAt)) - t0);
      await waitFor(`edit ${k} ACKed by Envoy`, async () => ((await envoyAckedVersion(admin)) ?? 0) >= configVersion, 30_000, 2);
      envoyLat.push(performance.now() - t0);
      bytes += (await pushBytes(admin)) - b0;
    }
    const cpu = cpuSeconds(server.pid!) - cpu0;
    return {
      mode: o.mode,
      streams: o.streams + 1,
      edits: o.edits,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      maxMs: Math.max(...lat),
      envoyP50Ms: percentile(envoyLat, 50),
      rssBaseMiB: rssBase,
      rssMiB: rssConnected,
      rssPerStreamKiB: ((rssConnected - rssBase) * 1024) / (o.streams + 1),
      cpuMsPerEditPerStream: (cpu * 1000) / o.edits / (o.streams + 1),
      bytesPerEdit: bytes / o.edits,
    };
  } finally {
    for (const s of sims) s.stop();
    await envoy?.stop();
    for (const c of children) c.kill('SIGTERM');
    await sleep(process.env.SHADOWPLANE_BENCH_CPU_PROF ? 3000 : 300);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
