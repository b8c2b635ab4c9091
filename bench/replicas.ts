// A fleet's push fan-out (`npm run bench -- --only=replicas`): one edit written to etcd reaches 1000
// simulated proxies spread evenly over 1, 2 and 3 replicas of `shadowplane serve --config etcd://…`
// (a 3-member etcd cluster on loopback). Measures the time from the write until every stream has the
// new endpoints (the ACK leaves right after) and until the first one has them (the first replica's
// push), and writes its own section of bench/RESULTS.md.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../src/sandbox/control-plane-process.js';
import { EtcdCluster, etcdVersion, findEtcd } from '../src/sandbox/etcd-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { EtcdStore } from '../src/store/etcd-store.js';
import { SimProcess } from './fanout.js';
import { wallMs } from './sim-proxies.js';
import { generateConfig } from './gen-config.js';
import { writeSection } from './results-file.js';
import { percentile } from './util.js';

/** ETCD_BIN, the host's etcd, or the one scripts/setup-bench.sh unpacked into .bench/etcd (it never installs the package: that starts a system etcd). */
function benchEtcd(): string | undefined {
  const unpacked = path.join(REPO_ROOT, '.bench/etcd/usr/bin/etcd');
  return findEtcd() ?? (existsSync(unpacked) ? unpacked : undefined);
}

export interface ReplicasRow {
  readonly mode: 'sotw' | 'delta';
  readonly replicas: number;
  readonly streams: number;
  readonly edits: number;
  /** Write issued → every stream has the edit. */
  readonly allP50Ms: number;
  readonly allP99Ms: number;
  /** Write issued → the first stream has it: the first replica's push. */
  readonly firstP50Ms: number;
  readonly firstP99Ms: number;
  /** Write issued → the first replica has published it (its /status lastAccepted.at): etcd's watch event, validation, compile. */
  readonly publishP50Ms: number;
  /** The write itself (etcd's quorum commit, as the client sees it). */
  readonly writeP50Ms: number;
}

const KEY = '/shadowplane/bench';

/**
 * How long the fleet is left between edits: a replica is still taking its streams' ACKs of the last
 * edit after they have it, and an edit landing then would measure that work, not its own.
 */
const SETTLE_MS = 1500;

/** One run: `replicas` replicas, `streams` simulated proxies dealt to them in turn, `edits` edits. */
async function runOne(etcd: EtcdCluster, store: EtcdStore, o: { replicas: number; streams: number; edits: number; routes: number; mode: 'sotw' | 'delta'; log: (s: string) => void }): Promise<ReplicasRow> {
  const servers: ControlPlaneProcess[] = [];
  // A process of simulated proxies per replica, its share of the streams each on a connection of its own.
  const sims: SimProcess[] = [];
  try {
    await store.put(KEY, generateConfig({ routes: o.routes, port: 1 }));
    for (let i = 0; i < o.replicas; i++) servers.push(await startControlPlaneProcess({ name: `replica-${i}`, config: etcd.url(KEY), logLevel: 'warn' }));
    await waitFor('every replica serving', async () => (await Promise.all(servers.map(async (s) => (await fetch(`${s.admin}/readyz`)).ok))).every(Boolean), 60_000, 50);
    let first = 0;
    const started: Array<Promise<unknown>> = [];
    for (const [i, server] of servers.entries()) {
      const count = Math.floor(o.streams / o.replicas) + (i < o.streams % o.replicas ? 1 : 0);
      const sim = new SimProcess();
      sims.push(sim);
      started.push(sim.ask({ cmd: 'start', target: `127.0.0.1:${server.xdsPort}`, mode: o.mode, connection: 'per-proxy', first, count }));
      first += count;
    }
    await Promise.all(started);
    const all: number[] = [];
    const firsts: number[] = [];
    const publish: number[] = [];
    const write: number[] = [];
    for (let k = 1; k <= o.edits; k++) {
      await sleep(SETTLE_MS);
      await Promise.all(sims.map((s) => s.ask({ cmd: 'arm' })));
      const text = generateConfig({ routes: o.routes, port: 1, edit: k });
      const wall = Date.now();
      const t0 = wallMs();
      const put = await store.put(KEY, text);
      write.push(wallMs() - t0);
      const times = (await Promise.all(sims.map((s) => s.ask({ cmd: 'collect', timeoutMs: 60_000 })))).flatMap((m) => ('times' in m ? m.times : []));
      all.push(Math.max(...times) - t0);
      firsts.push(Math.min(...times) - t0);
      // Each replica's own clock (the same machine's) says when it published the revision written.
      const published = await Promise.all(servers.map(async (s) => ((await (await fetch(`${s.admin}/status`)).json()) as { lastAccepted: { at: string; configVersion: number } }).lastAccepted));
      if (!put.written || published.some((p) => p.configVersion !== put.revision)) throw new Error(`edit ${k}: not every replica published revision ${put.written ? put.revision : '?'}`);
      publish.push(Math.min(...published.map((p) => Date.parse(p.at))) - wall);
    }
    const row: ReplicasRow = {
      mode: o.mode,
      replicas: o.replicas,
      streams: o.streams,
      edits: o.edits,
      allP50Ms: percentile(all, 50),
      allP99Ms: percentile(all, 99),
      firstP50Ms: percentile(firsts, 50),
      firstP99Ms: percentile(firsts, 99),
      publishP50Ms: percentile(publish, 50),
      writeP50Ms: percentile(write, 50),
    };
    o.log(`replicas ${o.mode} ${o.replicas} × ${Math.ceil(o.streams / o.replicas)} streams: all ACKed p50 ${row.allP50Ms.toFixed(0)} ms, first push p50 ${row.firstP50Ms.toFixed(1)} ms`);
    return row;
  } finally {
    for (const s of sims) s.stop();
    for (const s of servers) await s.stop();
  }
}

export async function runReplicas(o: { streams: number; edits: number; routes: number; log: (s: string) => void }): Promise<ReplicasRow[]> {
  const bin = benchEtcd();
  if (!bin) throw new Error('etcd not found: run scripts/setup-bench.sh as root (it unpacks Debian\'s etcd-server into .bench/etcd), or set ETCD_BIN');
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-replicas-'));
  const etcd = await EtcdCluster.start(bin, { dir, size: 3 });
  const store = await EtcdStore.open(etcd.endpoints);
  try {
    const rows: ReplicasRow[] = [];
    for (const mode of ['sotw', 'delta'] as const) {
      for (const replicas of [1, 2, 3]) rows.push(await runOne(etcd, store, { ...o, replicas, mode }));
    }
    return rows;
  } finally {
    store.close();
    await etcd.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The section of RESULTS.md this benchmark owns. */
export function replicasSection(rows: readonly ReplicasRow[], o: { command: string; started: Date; routes: number; load: readonly [number, number] }): string {
  const bin = benchEtcd();
  const f = (x: number, d = 0): string => x.toFixed(d);
  // With 100 edits or fewer, the 99th percentile is the slowest edit: say so.
  const maxLabel = rows.every((r) => r.edits <= 100) ? 'max (= p99)' : 'p99';
  return [
    '## Fleet fan-out: one edit in etcd to 1000 streams over 1, 2 and 3 replicas',
    '',
    `Written by \`${o.command}\` on ${o.started.toISOString()}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, etcd ${bin ? etcdVersion(bin) : 'n/a'} (Debian etcd-server, 3 members on loopback); the machine's 1-minute load average was ${o.load[0].toFixed(1)} at the start and ${o.load[1].toFixed(1)} at the end (other work shares it).`,
    `Each edit (a ${o.routes}-route config with one cluster's endpoint moved) is written straight to the etcd key that every replica (\`shadowplane serve --config etcd://…\`, its own process) watches; the simulated proxies (bench/sim-proxies.ts: streams that subscribe and ACK as Envoy does, each on its own connection, in a child process per replica) are dealt to the replicas evenly, and edits come ${SETTLE_MS / 1000} s apart. "Every stream" runs from the write until every stream has the new endpoints (its ACK leaves right after, and is not waited for), "first" until the first stream has them, i.e. the first replica's push after etcd's watch event; "published" until the first replica has validated, compiled and published the revision (its own /status, millisecond clock). A replica queues the response (encoded once, shared by its streams in step) to every one of its streams in one pass before its event loop flushes any of them, so its first push reaches the wire not long before its last. Every process shares the same 2 cores: more replicas split the encoding and the writes, and add their own watch and decode of each edit.`,
    '',
    `| xDS | replicas | streams (per replica) | edits | write → every stream has it p50 ms | ${maxLabel} ms | write → first push p50 ms | ${maxLabel} ms | write → first replica published p50 ms | etcd write p50 ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.mode} | ${r.replicas} | ${r.streams} (${Math.ceil(r.streams / r.replicas)}) | ${r.edits} | ${f(r.allP50Ms)} | ${f(r.allP99Ms)} | ${f(r.firstP50Ms, 1)} | ${f(r.firstP99Ms, 1)} | ${f(r.publishP50Ms)} | ${f(r.writeP50Ms, 1)} |`),
  ].join('\n');
}

/** Runs it and writes its section (what bench/run.ts calls for the replicas section). */
export async function benchReplicas(o: { quick: boolean; command: string; log: (s: string) => void }): Promise<string> {
  const started = new Date();
  const routes = 1000;
  const loadBefore = os.loadavg()[0]!;
  const rows = await runReplicas({ streams: o.quick ? 300 : 1000, edits: o.quick ? 3 : 30, routes, log: o.log });
  const section = replicasSection(rows, { command: o.command, started, routes, load: [loadBefore, os.loadavg()[0]!] });
  writeSection('replicas', section);
  return section;
}
