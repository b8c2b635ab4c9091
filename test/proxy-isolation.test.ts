// A mirror must never slow, pause or fail the primary. Measured side by side in one run: the same
// bounded request loop against a route without a mirror, with a mirror that answers after 1 s, and
// with one that never answers. Also: a dead mirror, a full in-flight cap, and mirrors that read the
// body too slowly or exhaust the global budget — each copy dropped and counted, the primary intact.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { freePort } from './helpers/ports.js';
import { tcpStates } from './helpers/socket-owners.js';
import { sleep } from '../src/sandbox/wait.js';
import {
  closeAll,
  listenOnLoopback,
  runBounded,
  send,
  startBackend,
  startFrontPlane,
  startRemoteBackends,
  type Backend,
  type FrontPlane,
} from './helpers/proxy-harness.js';

/** A TCP server that accepts connections and never reads from them: a mirror whose socket is stuck. */
async function startStuckServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    s.pause();
    s.on('error', () => undefined); // a reset from the data path
    sockets.add(s);
  });
  return {
    port: await listenOnLoopback(server),
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** GET over a keep-alive agent; resolves with the status, body and elapsed milliseconds. */
function timedGet(agent: Agent, port: number, path: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: 'isolation.example' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('mirror isolation', () => {
  let primary: Backend;
  let limited: Backend;
  let remote: Awaited<ReturnType<typeof startRemoteBackends>>;
  let stuck: Awaited<ReturnType<typeof startStuckServer>>;
  let plane: FrontPlane;

  before(async () => {
    primary = await startBackend('primary');
    // The latency loop's backends run in another process: only the data plane shares this event loop.
    remote = await startRemoteBackends({ 'remote-primary': 0, 'fast-mirror': 0, 'slow-mirror': 1000, 'hang-mirror': -1 });
    limited = await startBackend('limited', { kind: 'hang' });
    stuck = await startStuckServer();
    const dead = await freePort();
    const route = (name: string, mirror?: string): string =>
      `{ name: ${name}, match: { prefix: /${name} }, cluster: primary${mirror ? `, mirrors: [{ cluster: ${mirror} }]` : ''} }`;
    plane = await startFrontPlane(
      {
        host: 'isolation.example',
        virtualHost: 'isolation',
        routes: [
          '{ name: none, match: { prefix: /none }, cluster: remote-primary }',
          '{ name: fast, match: { prefix: /fast }, cluster: remote-primary, mirrors: [{ cluster: fast-mirror }] }',
          '{ name: slow, match: { prefix: /slow }, cluster: remote-primary, mirrors: [{ cluster: slow-mirror }] }',
          '{ name: hang, match: { prefix: /hang }, cluster: remote-primary, mirrors: [{ cluster: hang-mirror }] }',
          route('dead', 'dead'),
          route('limited', 'limited'),
          route('upload', 'stuck'),
        ],
        clusters: [
          `{ name: primary, endpoints: ["127.0.0.1:${primary.port}"] }`,
          ...Object.entries(remote.ports).map(([n, p]) => `{ name: ${n}, endpoints: ["127.0.0.1:${p}"] }`),
          `{ name: dead, endpoints: ["127.0.0.1:${dead}"] }`,
          `{ name: limited, endpoints: ["127.0.0.1:${limited.port}"], circuit_breakers: { max_connections: 1, max_pending_requests: 1, max_requests: 2 } }`,
          `{ name: stuck, endpoints: ["127.0.0.1:${stuck.port}"] }`,
        ],
      },
      { mirrorCopyBufferBytes: 256 * 1024 },
    );
  });

  after(() => closeAll(plane.plane, primary, limited, stuck, remote));

  it('a mirror answering after 1 s, or never, leaves the primary latency within tolerance of no mirror (p50 ≤ 2×, p95 ≤ 2.5×)', async () => {
    const routes = ['none', 'fast', 'slow', 'hang'] as const;
    type RouteName = (typeof routes)[number];
    const agents = Object.fromEntries(routes.map((r) => [r, new Agent({ keepAlive: true, maxSockets: 1 })])) as Record<RouteName, Agent>;
    const samples = Object.fromEntries(routes.map((r) => [r, [] as number[]])) as Record<RouteName, number[]>;
    // Warm-up: connections, JIT, pools.
    for (let i = 0; i < 20; i++) for (const r of routes) await timedGet(agents[r], plane.front, `/${r}`);
    // Interleaved, so drift in the machine's load hits every route alike. Bounded in count and time.
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 200 && Date.now() < deadline; i++) {
      for (const r of routes) {
        const res = await timedGet(agents[r], plane.front, `/${r}`);
        assert.equal(res.status, 200);
        assert.equal(res.body, 'remote-primary\n');
        samples[r].push(res.ms);
      }
    }
    for (const a of Object.values(agents)) a.destroy();
    const stats = Object.fromEntries(
      routes.map((r) => {
        const sorted = [...samples[r]].sort((a, b) => a - b);
        return [r, { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) }];
      }),
    ) as Record<RouteName, { n: number; p50: number; p95: number }>;
    process.stdout.write(`# isolation latency (ms): ${JSON.stringify(stats, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v))}\n`);
    assert.ok(stats.none.n >= 100, `only ${stats.none.n} rounds ran`);
    // The tolerance covers the CPU a copy costs on this event loop (its request, and a new
    // connection for each copy while earlier ones are still waiting on the mirror); a primary that
    // waited for its mirror would take 1 s or forever.
    for (const r of ['slow', 'hang'] as const) {
      assert.ok(stats[r].p50 <= stats.none.p50 * 2, `${r}: p50 ${stats[r].p50.toFixed(3)} ms vs ${stats.none.p50.toFixed(3)} ms without a mirror`);
      assert.ok(stats[r].p95 <= stats.none.p95 * 2.5, `${r}: p95 ${stats[r].p95.toFixed(3)} ms vs ${stats.none.p95.toFixed(3)} ms without a mirror`);
    }
    // Every copy went out: the slow mirror answers each after 1 s, the hanging one never does.
    for (const r of ['slow', 'hang'] as const) {
      assert.ok((await plane.metric('shadowplane_mirror_sent_total', { cluster: `${r}-mirror` })) >= stats[r].n + 20);
    }
  });

  it('a dead mirror (connection refused): the primary answers; copies fail as connect failures, then are shed while the mirror stays unreachable', async () => {
    const res = await runBounded(30, 5, () => plane.get('/dead'));
    assert.deepEqual(new Set(res.map((r) => `${r.status} ${r.body}`)), new Set(['200 primary\n']));
    const labels = { cluster: 'dead' };
    const sent = (): Promise<number> => plane.metric('shadowplane_mirror_sent_total', labels);
    const failed = (): Promise<number> => plane.metric('shadowplane_mirror_errors_total', { ...labels, kind: 'connect_failure' });
    const deadline = Date.now() + 5000;
    while ((await failed()) < (await sent()) && Date.now() < deadline) await sleep(20);
    const unreachable = await plane.metric('shadowplane_mirror_dropped_total', { ...labels, reason: 'mirror_unreachable' });
    assert.ok((await sent()) >= 1, 'at least one copy tried to connect');
    assert.equal(await failed(), await sent(), 'every copy that tried failed to connect');
    assert.equal((await sent()) + unreachable, 30, 'every sampled copy is either sent or shed');
  });

  it('a full in-flight cap (circuit breakers): further copies are dropped as overflow, the primary answers', async () => {
    const res = await runBounded(10, 1, () => plane.get('/limited'));
    assert.ok(res.every((r) => r.status === 200 && r.body === 'primary\n'));
    // max_requests 2 (max_connections 1 + max_pending_requests 1): two copies in flight, eight dropped.
    assert.equal(await plane.metric('shadowplane_mirror_sent_total', { cluster: 'limited' }), 2);
    assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { cluster: 'limited', reason: 'overflow' }), 8);
    assert.equal(await plane.metric('shadowplane_mirror_in_flight', { cluster: 'limited' }), 2);
    assert.ok(limited.started <= 2);
  });

  it('a mirror that never reads the body: the upload is not paused, the copy is dropped at its buffer limit', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    const started = performance.now();
    const res = await send(plane.front, '/upload', { method: 'POST', body, headers: { host: 'isolation.example' } });
    const ms = performance.now() - started;
    assert.equal(res.status, 200);
    const got = primary.received.at(-1)!;
    assert.equal(got.bodyLength, body.length);
    assert.equal(got.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.ok(ms < 5000, `upload took ${ms.toFixed(0)} ms`);
    assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { cluster: 'stuck', reason: 'copy_buffer_full' }), 1);
    assert.equal(await plane.metric('shadowplane_mirror_buffered_bytes'), 0);
  });
});

describe('a mirror that accepts and never answers', () => {
  it('copies that reach max_stream_duration together are all cut off (a few per turn of the event loop) and their connections reset: nothing is left closing on either side', async () => {
    const primary = await startBackend('primary');
    const silent = await startStuckServer();
    const plane = await startFrontPlane({
      host: 'silent.example',
      routes: ['{ name: silent, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: silent }] }'],
      clusters: [`{ name: primary, endpoints: ["127.0.0.1:${primary.port}"] }`, `{ name: silent, endpoints: ["127.0.0.1:${silent.port}"], max_stream_duration: 0.2s }`],
    });
    try {
      // 48 at once: more than one turn's worth of cut-offs (16).
      const res = await runBounded(48, 48, () => plane.get('/'));
      assert.ok(res.every((r) => r.status === 200 && r.body === 'primary\n'));
      const deadline = Date.now() + 5000;
      while ((await plane.metric('shadowplane_mirror_timeouts_total', { cluster: 'silent' })) < 48 && Date.now() < deadline) await sleep(20);
      assert.equal(await plane.metric('shadowplane_mirror_timeouts_total', { cluster: 'silent' }), 48);
      assert.equal(await plane.metric('shadowplane_mirror_in_flight', { cluster: 'silent' }), 0);
      await sleep(100);
      // Closed with a FIN, each would leave FIN_WAIT2 here and CLOSE_WAIT at the silent mirror.
      assert.deepEqual(tcpStates(silent.port), {});
    } finally {
      await closeAll(plane.plane, primary, silent);
    }
  });
});

describe('global mirror body budget', () => {
  it('copies that together would hold more than the budget are dropped; uploads finish', async () => {
    const primary = await startBackend('primary');
    const stuck = await startStuckServer();
    const plane = await startFrontPlane(
      {
        host: 'budget.example',
        virtualHost: 'v',
        routes: ['{ name: upload, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: stuck }] }'],
        clusters: [`{ name: primary, endpoints: ["127.0.0.1:${primary.port}"] }`, `{ name: stuck, endpoints: ["127.0.0.1:${stuck.port}"] }`],
      },
      { mirrorCopyBufferBytes: 64 * 1024 * 1024, mirrorTotalBufferBytes: 1024 * 1024 },
    );
    try {
      // Bigger than what the kernel's socket buffers absorb for a mirror that never reads.
      const body = randomBytes(16 * 1024 * 1024);
      const res = await runBounded(3, 1, () => send(plane.front, '/', { method: 'POST', body, headers: { host: 'budget.example' } }));
      assert.ok(res.every((r) => r.status === 200));
      assert.ok(primary.received.every((r) => r.bodyLength === body.length));
      assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { reason: 'global_buffer_full' }), 3);
      assert.equal(await plane.metric('shadowplane_mirror_buffered_bytes'), 0);
    } finally {
      await closeAll(plane.plane, primary, stuck);
    }
  });
});
