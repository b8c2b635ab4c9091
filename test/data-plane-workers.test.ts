// The built-in data plane on worker processes (`serve --data-plane builtin --workers 2`, `proxy
// --workers 2`), as a user runs them: the CLI as a child process, real loopback backends, and the
// kernel's view of who holds each connection (/proc). One config feed in the primary, every worker
// applying each version; one /metrics, /mirror_stats and /mirror_diffs for all; a killed worker
// replaced while the listener stays open.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { freePort } from './helpers/ports.js';
import { closeAll, send, startBackend, type Backend } from './helpers/proxy-harness.js';
import { REPO_ROOT } from './helpers/repo.js';
import { socketOwners } from './helpers/socket-owners.js';

const CLI = path.join(REPO_ROOT, 'bin/shadowplane.js');

/** A CLI child process whose JSON log lines are kept. */
interface Logged {
  readonly child: ChildProcess;
  readonly lines: () => Array<Record<string, unknown>>;
  readonly text: () => string;
}

function startCli(args: readonly string[]): Logged {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** The pids of the data-plane workers now running, by slot, from the primary's log. */
function workerPids(p: Logged): Map<number, number> {
  const bySlot = new Map<number, number>();
  for (const l of p.lines()) if (l.msg === 'data-plane worker online') bySlot.set(l.worker as number, l.workerPid as number);
  return bySlot;
}

async function stop(p: Logged | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

/** `n` requests at once over a keep-alive agent of `n` sockets, which stay open until the agent is destroyed. */
async function holdConnections(port: number, n: number, host = 'workers.example'): Promise<Agent> {
  const agent = new Agent({ keepAlive: true, maxSockets: n });
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: `/held/${i}`, agent, headers: { host } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
          });
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  return agent;
}

/** A sample's value from Prometheus text, summed over the series matching `labels`. */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
  }
  return sum;
}

const configText = (front: number, primary: number, mirror: number, percent: number): string => `listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes: [{ name: r, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: mirror, percent: ${percent}, compare: {} }] }]
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${primary}"] }
  - { name: mirror, endpoints: ["127.0.0.1:${mirror}"] }
`;

describe('serve --data-plane builtin --workers 2', () => {
  let primary: Backend;
  let mirror: Backend;
  let serve: Logged | undefined;
  let dir = '';
  let configFile = '';
  let front = 0;
  let admin = 0;
  const adminGet = async (p: string): Promise<string> => (await fetch(`http://127.0.0.1:${admin}${p}`)).text();

  before(async () => {
    primary = await startBackend('primary');
    mirror = await startBackend('mirror');
    // The mirror answers with another body: every compared copy is a mismatch.
    mirror.reply = () => ({ body: 'something else\n' });
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-workers-'));
    configFile = path.join(dir, 'shadowplane.yaml');
    // Every port named: with --xds 127.0.0.1:0 the kernel could give the xDS server the front port.
    const xds = await freePort();
    [front, admin] = [await freePort(), await freePort()];
    await writeFile(configFile, configText(front, primary.port, mirror.port, 100));
    serve = startCli(['serve', '--config', configFile, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--data-plane', 'builtin', '--workers', '2']);
    await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${serve?.text()}`);
    });
  });

  after(async () => {
    await stop(serve);
    await closeAll(primary, mirror);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs two worker processes that share the listener: one client\'s connections spread over both, none stays with the primary', async () => {
    await waitFor('two workers online', () => workerPids(serve!).size === 2).catch((e: Error) => {
      throw new Error(`${e.message}\n${serve!.text()}`);
    });
    const pids = [...workerPids(serve!).values()];
    const agent = await holdConnections(front, 6);
    try {
      const owners = socketOwners(front, [serve!.child.pid!, ...pids]);
      assert.equal(owners.get(serve!.child.pid!), 0, 'the primary holds no connection');
      assert.equal(pids.reduce((n, p) => n + (owners.get(p) ?? 0), 0), 6, `all six connections are held by the workers: ${JSON.stringify([...owners])}`);
      for (const p of pids) assert.ok((owners.get(p) ?? 0) >= 1, `worker ${p} took connections: ${JSON.stringify([...owners])}`);
    } finally {
      agent.destroy();
    }
  });

  it('has one config feed: /status shows the built-in data plane once, SYNCED, and an edit reaches every worker', async () => {
    type Status = { synced: boolean; proxies: Array<{ nodeId: string; protocol: string; peer: string; synced: boolean }> };
    const status = JSON.parse(await adminGet('/status')) as Status;
    assert.deepEqual(
      status.proxies.map((p) => ({ nodeId: p.nodeId, protocol: p.protocol, peer: p.peer, synced: p.synced })),
      [{ nodeId: 'builtin', protocol: 'builtin', peer: '2 worker processes', synced: true }],
    );
    // Mirroring off: once /status says SYNCED, no worker sends a copy any more.
    const tmp = path.join(dir, '.edit.tmp');
    await writeFile(tmp, configText(front, primary.port, mirror.port, 0));
    await rename(tmp, configFile);
    await waitFor('edit applied', async () => {
      const s = JSON.parse(await adminGet('/status')) as Status & { configVersion: number };
      return s.configVersion >= 2 && s.synced;
    });
    const agent = await holdConnections(front, 6, 'edit.example');
    const owners = socketOwners(front, [...workerPids(serve!).values()]);
    agent.destroy();
    assert.equal([...owners.values()].filter((n) => n > 0).length, 2, 'both workers served these requests');
    await sleep(300);
    assert.equal(mirror.received.filter((r) => r.host === 'edit.example-shadow').length, 0, 'a worker still mirrored after the edit');
    assert.equal(primary.received.filter((r) => r.host === 'edit.example').length, 6);
    // Back to 100% for the tests that follow.
    await writeFile(tmp, configText(front, primary.port, mirror.port, 100));
    await rename(tmp, configFile);
    await waitFor('edit applied', async () => {
      const s = JSON.parse(await adminGet('/status')) as Status & { configVersion: number };
      return s.configVersion >= 3 && s.synced;
    });
  });

  it('serves one /metrics, /mirror_stats and /mirror_diffs for all workers: the sums are what the backends received', async () => {
    const before = { metrics: await adminGet('/metrics'), diffs: JSON.parse(await adminGet('/mirror_diffs')) as { mismatch: number } };
    const sent = (t: string): number => metricValue(t, 'shadowplane_mirror_sent_total', { cluster: 'mirror' });
    const relayed = (t: string): number => metricValue(t, 'shadowplane_primary_responses_total', { cluster: 'primary' });
    const copiesBefore = mirror.received.length;
    const n = 40;
    // A new connection per request: the listener hands them to the workers in turn.
    for (let i = 0; i < n; i++) assert.equal((await send(front, `/count/${i}`, { headers: { host: 'count.example' } })).status, 200);
    await mirror.waitFor(copiesBefore + n);
    await waitFor('comparisons done', async () => (JSON.parse(await adminGet('/mirror_diffs')) as { mismatch: number }).mismatch >= before.diffs.mismatch + n);
    const text = await adminGet('/metrics');
    assert.equal(sent(text) - sent(before.metrics), n);
    assert.equal(relayed(text) - relayed(before.metrics), n);
    assert.equal(metricValue(text, 'shadowplane_dataplane_workers'), 2);
    // Each worker's process metrics are in the sum, the control plane's with them.
    assert.ok(metricValue(text, 'process_resident_memory_bytes') > 0);
    assert.ok(metricValue(text, 'shadowplane_config_versions_total', { result: 'accepted' }) >= 3, 'the control plane\'s own metrics');

    type Diffs = { match: number; mismatch: number; incomplete: number; recent: Array<{ at: string; differences: Array<{ field: string }> }> };
    const diffs = JSON.parse(await adminGet('/mirror_diffs')) as Diffs;
    assert.equal(diffs.mismatch - before.diffs.mismatch, n);
    assert.equal(diffs.recent.length, Math.min(100, diffs.mismatch));
    assert.deepEqual(diffs.recent[0]!.differences.map((d) => d.field), ['body']);
    const times = diffs.recent.map((d) => d.at);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first across workers');

    type Stats = { policies: Array<{ route: string; counters: { sent: number; sampled: number } }> };
    const stats = JSON.parse(await adminGet('/mirror_stats')) as Stats;
    const policy = stats.policies.find((p) => p.route === 'r')!;
    assert.equal(policy.counters.sent, sent(text));
  });

  it('replaces a worker that is killed while a request loop runs: the listener never closes, requests keep succeeding, counters do not go down', async () => {
    const pids = workerPids(serve!);
    const [slot, victim] = [...pids.entries()][0]!;
    let atKill = 0;
    let okSinceKill = 0;
    const failures: string[] = [];
    let okAfterReplacement = 0;
    let killed = false;
    const replaced = (): boolean => (workerPids(serve!).get(slot) ?? victim) !== victim;
    const deadline = Date.now() + 30_000;
    // Bounded: 5000 requests and 30 s at most, one at a time, each on a new connection with its own timeout.
    for (let i = 0; i < 5000 && Date.now() < deadline; i++) {
      if (i === 50) {
        // Read just before: what the victim counted up to here is what it leaves in the sums.
        atKill = metricValue(await adminGet('/metrics'), 'shadowplane_primary_responses_total');
        process.kill(victim, 'SIGKILL');
        killed = true;
      }
      try {
        const r = await send(front, `/loop/${i}`, { headers: { host: 'loop.example' }, timeoutMs: 3000 });
        assert.equal(r.status, 200);
        if (killed) okSinceKill++;
        if (killed && replaced()) okAfterReplacement++;
      } catch (e) {
        failures.push(`${i}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (okAfterReplacement >= 100) break;
    }
    assert.ok(replaced(), `slot ${slot} got a new worker:\n${serve!.text()}`);
    assert.ok(!failures.some((f) => f.includes('ECONNREFUSED')), `the listener closed: ${failures.join(', ')}`);
    // Only a request on the killed worker's own connection, at that moment, may fail.
    assert.ok(failures.length <= 2, `failed: ${failures.join(', ')}`);
    assert.ok(okAfterReplacement >= 100, `${okAfterReplacement} requests after the replacement`);
    const newPid = workerPids(serve!).get(slot)!;
    const agent = await holdConnections(front, 6, 'after.example');
    const owners = socketOwners(front, [...workerPids(serve!).values()]);
    agent.destroy();
    assert.ok((owners.get(newPid) ?? 0) >= 1, `the new worker ${newPid} takes connections: ${JSON.stringify([...owners])}`);
    const text = await adminGet('/metrics');
    assert.equal(metricValue(text, 'shadowplane_dataplane_worker_restarts_total'), 1);
    assert.equal(metricValue(text, 'shadowplane_dataplane_workers'), 2);
    // Every request since the kill went to a live worker; what the victim had counted when last read stays.
    assert.ok(metricValue(text, 'shadowplane_primary_responses_total') >= atKill + okSinceKill, 'a counter went down when its worker died');
    assert.equal((JSON.parse(await adminGet('/status')) as { synced: boolean }).synced, true);
  });
});

describe('proxy --workers 2', () => {
  it('holds one xDS stream whatever the number of workers, and every worker serves what it brings', async () => {
    const primary = await startBackend('primary');
    const mirror = await startBackend('mirror');
    const front = await freePort();
    let cp: TestControlPlane | undefined;
    let proxy: Logged | undefined;
    try {
      cp = await startControlPlane(configText(front, primary.port, mirror.port, 100));
      const admin = await freePort();
      proxy = startCli(['proxy', '--xds', `127.0.0.1:${cp.xdsPort}`, '--node-id', 'edge-1', '--admin', `127.0.0.1:${admin}`, '--workers', '2']);
      await waitFor('proxy ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${proxy?.text()}`);
      });
      const records = (): number => cp!.controlPlane.ads.proxies.list().filter((p) => p.node?.id === 'edge-1').length;
      const types = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime];
      await waitFor('SYNCED', () => cp!.controlPlane.ads.proxies.list().some((p) => p.node?.id === 'edge-1' && types.every((t) => p.sync(t).state === 'SYNCED')));
      await waitFor('two workers online', () => workerPids(proxy!).size === 2);
      const pids = [...workerPids(proxy).values()];
      const agent = await holdConnections(front, 6, 'proxy.example');
      const owners = socketOwners(front, [proxy.child.pid!, ...pids]);
      agent.destroy();
      assert.equal(owners.get(proxy.child.pid!), 0);
      for (const p of pids) assert.ok((owners.get(p) ?? 0) >= 1, `worker ${p} serves: ${JSON.stringify([...owners])}`);
      await mirror.waitFor(6, 5000, (r) => r.host === 'proxy.example-shadow');
      assert.equal(records(), 1, 'one stream for the node');
      const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      assert.equal(metricValue(text, 'shadowplane_mirror_sent_total'), 6);
    } finally {
      await stop(proxy);
      await cp?.stop();
      await closeAll(primary, mirror);
    }
  });
});
