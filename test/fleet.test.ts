// shadowplane as a fleet's control plane: a real 3-member etcd cluster on loopback holds the config,
// three `shadowplane serve --config etcd://…` replicas (child processes) serve it, and two real
// Envoys (state of the world and delta) are bootstrapped with all three replicas. An edit written
// through one replica reaches Envoys connected to another; killing their replica moves them to a
// live one that sends them nothing they already hold, with no failed request; killing an etcd
// member changes nothing; with every etcd member down the replicas keep serving and refuse writes
// with 503, and the first edit after etcd returns reaches every Envoy; two concurrent guarded PUTs
// never both win.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../src/sandbox/control-plane-process.js';
import { EtcdCluster, findEtcd } from '../src/sandbox/etcd-process.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { waitFor } from '../src/sandbox/wait.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { requireEnvoy } from './helpers/envoy.js';
import { requireEtcd } from './helpers/etcd.js';
import { httpGet } from './helpers/http-client.js';
import { startLoad, type RunningLoad } from './helpers/load.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';
import { REPO_ROOT } from './helpers/repo.js';

const KEY = '/shadowplane/fleet';
const TOKEN = 'fleet-token';
const ENVOYS = [
  { id: 'envoy-sotw', delta: false, baseId: 71 },
  { id: 'envoy-delta', delta: true, baseId: 72 },
] as const;
const APPS = 4;

interface Status {
  configVersion: number;
  source: { kind: string; revision: number | null; store: { state: string; error?: string } };
  proxies: Array<{ nodeId: string; protocol: string; synced: boolean }>;
}

describe('a fleet: config in a 3-member etcd cluster, 3 replicas, real Envoy', () => {
  let dir = '';
  let etcd: EtcdCluster | undefined;
  const replicas = new Map<'A' | 'B' | 'C', ControlPlaneProcess>();
  const envoys = new Map<string, RunningEnvoy>();
  const fronts = new Map<string, number>();
  const apps: RecordingBackend[] = [];
  let steady: RecordingBackend;
  let tokenFile = '';
  let edit = 0;

  /** Edit k sends /app to backend app-(k mod APPS) and stamps x-edit: k on it: endpoints and routes both change. */
  const config = (k: number): string => `
listeners:
${ENVOYS.map(
  (e) => `  - name: front-${e.id}
    address: 127.0.0.1:${fronts.get(e.id)}
    nodes: [{ id: ${e.id} }]
    virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
          - { name: app, match: { prefix: /app }, cluster: app, request_headers: { set: { x-edit: "${k}" } } }
          - { name: steady, match: { prefix: /steady }, cluster: steady }`,
).join('\n')}
clusters:
  - { name: app, endpoints: ["127.0.0.1:${apps[k % APPS]!.port}"], connect_timeout: 1s }
  - { name: steady, endpoints: ["127.0.0.1:${steady.port}"], connect_timeout: 1s }
`;

  const r = (name: 'A' | 'B' | 'C'): ControlPlaneProcess => replicas.get(name)!;
  const status = async (p: ControlPlaneProcess): Promise<Status> => (await (await fetch(`${p.admin}/status`)).json()) as Status;
  const put = (p: ControlPlaneProcess, text: string, ifMatch?: string): Promise<Response> =>
    fetch(`${p.admin}/config`, { method: 'PUT', body: text, headers: { authorization: `Bearer ${TOKEN}`, ...(ifMatch ? { 'if-match': ifMatch } : {}) } });
  const etag = async (p: ControlPlaneProcess): Promise<string> => {
    const res = await fetch(`${p.admin}/config`);
    assert.equal(res.status, 200, await res.clone().text());
    return res.headers.get('etag')!;
  };
  const pushBytes = async (p: ControlPlaneProcess): Promise<number> => {
    const text = await (await fetch(`${p.admin}/metrics`)).text();
    return [...text.matchAll(/^shadowplane_xds_push_bytes_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  };
  /** Both Envoys route /app as edit `k` says (the backend it names gets x-edit: k). */
  const everyEnvoyHas = (k: number, timeoutMs = 20_000): Promise<void> =>
    waitFor(
      `every Envoy routes edit ${k}`,
      async () => {
        for (const e of ENVOYS) {
          const res = await httpGet(fronts.get(e.id)!, '/app', { host: 'localhost' }).catch(() => undefined);
          if (!res?.body.includes(`(app-${k % APPS})`)) return false;
          if (apps[k % APPS]!.received.at(-1)?.headers['x-edit'] !== String(k)) return false;
        }
        return true;
      },
      timeoutMs,
      100,
    );
  /** Where each Envoy's stream is now: the live replica whose /status lists it, SYNCED. */
  const homeOf = async (id: string): Promise<string | undefined> => {
    for (const [name, p] of replicas) {
      if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
      const s = await status(p).catch(() => undefined);
      if (s?.proxies.some((x) => x.nodeId === id && x.synced)) return name;
    }
    return undefined;
  };
  const envoyStat = async (id: string, name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${envoys.get(id)!.adminPort}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`)).text();
    return Number(/: (\d+)/.exec(text)?.[1] ?? NaN);
  };
  /** What Envoy counts each time a response of a type is applied. */
  const UPDATES = ['cluster_manager.cds.update_success', 'listener_manager.lds.update_success', 'runtime.load_success'];
  const steadyLoad = (): RunningLoad[] =>
    ENVOYS.map((e) => startLoad({ port: fronts.get(e.id)!, path: '/steady', headers: { host: 'localhost' }, concurrency: 2, maxMs: 90_000, maxRequests: 100_000 }));
  const stopLoads = async (loads: RunningLoad[]): Promise<{ sent: number; failures: string[] }> => {
    const results = await Promise.all(loads.map((l) => l.stop()));
    return { sent: results.reduce((a, x) => a + x.sent, 0), failures: results.flatMap((x) => x.failures) };
  };
  const ready = (t: TestContext): boolean => !!requireEtcd(t) && !!requireEnvoy(t) && etcd !== undefined;

  before(async () => {
    const etcdBin = findEtcd();
    const envoyBin = findEnvoy();
    if (!etcdBin || !envoyBin) return;
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-fleet-'));
    etcd = await EtcdCluster.start(etcdBin, { dir: path.join(dir, 'etcd'), size: 3 });
    tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, TOKEN);
    for (let i = 0; i < APPS; i++) apps.push(await startRecordingBackend(`app-${i}`));
    steady = await startRecordingBackend('steady');
    for (const e of ENVOYS) fronts.set(e.id, await freePort());
    // Ports for all three up front: the Envoys are bootstrapped with every replica, while only C runs,
    // so their streams start on C.
    const ports = { A: [await freePort(), await freePort()], B: [await freePort(), await freePort()], C: [await freePort(), await freePort()] };
    const start = (name: 'A' | 'B' | 'C') =>
      startControlPlaneProcess({ name, config: etcd!.url(KEY), tokenFile, logLevel: 'warn', xdsPort: ports[name][0], adminPort: ports[name][1] }).then((p) => void replicas.set(name, p));
    await start('C');
    assert.equal((await put(r('C'), config(0))).status, 200);
    for (const e of ENVOYS) {
      const adminPort = await freePort();
      const file = path.join(dir, `${e.id}.yaml`);
      const xds = (['A', 'B', 'C'] as const).map((n) => `127.0.0.1:${ports[n][0]}`).join(',');
      await writeFile(file, formatDocument(adsBootstrap({ xds, nodeId: e.id, nodeCluster: 'fleet', adminPort, delta: e.delta }), 'yaml'));
      envoys.set(e.id, await startEnvoy(envoyBin, { bootstrapFile: file, adminPort, baseId: e.baseId, logLevel: 'warn' }));
    }
    await everyEnvoyHas(0);
    await start('A');
    await start('B');
    await waitFor('A and B serve the stored config', async () => (await Promise.all([r('A'), r('B')].map(async (p) => (await fetch(`${p.admin}/readyz`)).ok))).every(Boolean), 20_000);
  });

  after(async () => {
    for (const e of envoys.values()) await e.stop();
    for (const p of replicas.values()) await p.stop();
    for (const b of [...apps, steady]) await b?.close();
    await etcd?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an edit written through replica A reaches the Envoys connected to replica C; every replica serves the same bytes and versions', async (t) => {
    if (!ready(t)) return;
    for (const e of ENVOYS) assert.equal(await homeOf(e.id), 'C', `${e.id} starts on C, the only replica it could reach`);
    const res = await put(r('A'), config(++edit), await etag(r('A')));
    assert.equal(res.status, 200, await res.clone().text());
    const written = (await res.json()) as { revision: number; configVersion: number };
    assert.equal(res.headers.get('etag'), `"${written.revision}"`);
    assert.equal(written.configVersion, written.revision);
    await everyEnvoyHas(edit);
    await waitFor('Envoys SYNCED on C', async () => (await status(r('C'))).proxies.filter((p) => p.synced).length === ENVOYS.length);
    // The same stored revision: the same version, and byte for byte the same resources and versions, everywhere.
    for (const p of replicas.values()) await waitFor(`${p.name} at revision ${written.revision}`, async () => (await status(p)).configVersion === written.revision);
    for (const e of ENVOYS) {
      const dumps = await Promise.all([...replicas.values()].map(async (p) => (await (await fetch(`${p.admin}/config_dump?node=${e.id}&cluster=fleet`)).text()).replace(/"node": \{[\s\S]*?\n  \},?/, '')));
      assert.equal(dumps[1], dumps[0], `A and B serve ${e.id} the same`);
      assert.equal(dumps[2], dumps[0], `A and C serve ${e.id} the same`);
    }
  });

  it('kill replica C: each Envoy moves to a live replica, ends SYNCED, is sent nothing it already had, and no request fails', async (t) => {
    if (!ready(t)) return;
    const before = new Map<string, number[]>();
    for (const e of ENVOYS) {
      before.set(e.id, await Promise.all(UPDATES.map((u) => envoyStat(e.id, u))));
      assert.ok(before.get(e.id)!.every((n) => Number.isInteger(n) && n > 0), `${e.id} counts its updates: ${UPDATES.join(', ')} = ${before.get(e.id)!.join(', ')}`);
    }
    for (const name of ['A', 'B'] as const) assert.equal(await pushBytes(r(name)), 0, `${name} has sent nothing yet`);
    const loads = steadyLoad();
    await r('C').kill();
    for (const e of ENVOYS) await waitFor(`${e.id} SYNCED on A or B`, async () => ['A', 'B'].includes((await homeOf(e.id)) ?? ''), 30_000, 200);
    const moved = await Promise.all(ENVOYS.map(async (e) => `${e.id} → ${await homeOf(e.id)}`));
    // A replica that recognises what Envoy holds sends it nothing: not one byte, and Envoy applied no update.
    for (const name of ['A', 'B'] as const) assert.equal(await pushBytes(r(name)), 0, `${name} sent a reconnecting Envoy resources it already had`);
    for (const e of ENVOYS) assert.deepEqual(await Promise.all(UPDATES.map((u) => envoyStat(e.id, u))), before.get(e.id), `${e.id} received an update on reconnect (${UPDATES.join(', ')})`);
    for (const e of ENVOYS) assert.equal(await envoyStat(e.id, 'control_plane.connected_state'), 1);
    // And the next edit reaches them where they are now (which the byte count sees).
    assert.equal((await put(r('B'), config(++edit))).status, 200);
    await everyEnvoyHas(edit);
    assert.ok((await pushBytes(r('A'))) + (await pushBytes(r('B'))) > 0);
    for (const e of ENVOYS) assert.ok((await envoyStat(e.id, 'cluster_manager.cds.update_success')) >= before.get(e.id)![0]!);
    const load = await stopLoads(loads);
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed`);
    assert.ok(load.sent > 100, `the request loop ran (${load.sent} requests)`);
    t.diagnostic(`${moved.join(', ')}; ${load.sent} requests through Envoy, 0 failed`);
  });

  it('kill one etcd member: edits still apply (a quorum of two)', async (t) => {
    if (!ready(t)) return;
    await etcd!.stopMember(0, 'SIGKILL');
    try {
      const res = await put(r('A'), config(++edit), await etag(r('A')));
      assert.equal(res.status, 200, await res.clone().text());
      const { revision } = (await res.json()) as { revision: number };
      await everyEnvoyHas(edit);
      for (const name of ['A', 'B'] as const) await waitFor(`${name} at revision ${revision}`, async () => (await status(r(name))).configVersion === revision, 10_000);
    } finally {
      await etcd!.startMember(0);
    }
  });

  it('stop every etcd member: serving goes on, /readyz stays ready, writes get 503, status says the store is down; the first edit after etcd returns reaches every Envoy', async (t) => {
    if (!ready(t)) return;
    const live = [r('A'), r('B')];
    const servingVersion = (await status(r('A'))).configVersion;
    const loads = steadyLoad();
    await etcd!.stopAll('SIGKILL');
    for (const p of live) await waitFor(`${p.name} reports the store down`, async () => (await status(p)).source.store.state === 'down', 15_000, 200);
    for (const p of live) {
      assert.equal((await fetch(`${p.admin}/readyz`)).status, 200, 'Envoy still gets served: ready');
      const res = await put(p, config(edit + 1));
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: string }).error, /^the config store cannot be reached: etcd \(.*\) did not answer: .*; nothing was written$/);
      assert.equal((await fetch(`${p.admin}/config`)).status, 503);
      const s = await status(p);
      assert.equal(s.configVersion, servingVersion);
      assert.match(await (await fetch(`${p.admin}/metrics`)).text(), /^shadowplane_config_store_up 0$/m);
    }
    // Each live replica says so in `shadowplane status`; the Envoys moved to A or B (either may hold both).
    let proxies = 0;
    for (const p of live) {
      const cli = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'status', '--admin', p.admin], { encoding: 'utf8' });
      const head = new RegExp(`^config etcd://\\S+, version ${servingVersion}, store down, (\\d+) proxies\\n`).exec(cli.stdout);
      assert.ok(head, `${p.name}: ${cli.stdout}`);
      proxies += Number(head[1]);
      assert.match(cli.stdout, new RegExp(`\\nconfig store down since \\S+: .*\\n  version ${servingVersion} keeps being served; writes \\(PUT /config, apply\\) fail until it answers\\n`));
    }
    assert.equal(proxies, ENVOYS.length, 'every Envoy is on a live replica');
    for (const e of ENVOYS) assert.ok((await httpGet(fronts.get(e.id)!, '/app', { host: 'localhost' })).body.includes(`(app-${edit % APPS})`));

    await etcd!.startAll();
    for (const p of live) await waitFor(`${p.name} reports the store up`, async () => (await status(p)).source.store.state === 'up', 15_000, 200);
    for (const p of live) assert.match(await (await fetch(`${p.admin}/metrics`)).text(), /^shadowplane_config_store_up 1$/m);
    // Written straight to etcd, so no replica applies it itself: each must see it through its watch.
    const file = path.join(dir, 'after-outage.yaml');
    await writeFile(file, config(++edit));
    const apply = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'apply', file, '--config', etcd!.url(KEY)], { encoding: 'utf8' });
    assert.equal(apply.status, 0, apply.stderr);
    const revision = Number(/as revision (\d+)/.exec(apply.stdout)?.[1]);
    await everyEnvoyHas(edit);
    for (const p of live) await waitFor(`${p.name} at revision ${revision}`, async () => (await status(p)).configVersion === revision, 10_000);
    const load = await stopLoads(loads);
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.sent} requests failed during the outage`);
    assert.ok(load.sent > 100, `the request loop ran (${load.sent} requests)`);
  });

  it('two concurrent PUTs with the same If-Match: exactly one wins, the other gets 409 with the current revision, and nothing is lost', async (t) => {
    if (!ready(t)) return;
    const tag = await etag(r('A'));
    const [x, y] = [config(edit + 1), config(edit + 2)];
    const [ra, rb] = await Promise.all([put(r('A'), x, tag), put(r('B'), y, tag)]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 409], `statuses ${ra.status}, ${rb.status}`);
    const [won, lost] = ra.status === 200 ? [ra, rb] : [rb, ra];
    const wonText = ra.status === 200 ? x : y;
    const lostText = ra.status === 200 ? y : x;
    const winner = (await won.json()) as { revision: number };
    const conflict = (await lost.json()) as { error: string; revision: number; etag: string };
    assert.equal(conflict.revision, winner.revision, 'the 409 names the revision that won');
    assert.equal(lost.headers.get('etag'), `"${winner.revision}"`);
    assert.match(conflict.error, new RegExp(`^If-Match ${tag.replace(/"/g, '\\"')} does not hold: the stored config changed \\(it is now revision ${winner.revision}\\); nothing was written`));
    const stored = await fetch(`${r('A').admin}/config`);
    assert.equal(await stored.text(), wonText, 'the winner is what is stored');
    // The loser, told the current revision, applies its edit on top of it: nothing was lost.
    const retry = await put(r(ra.status === 200 ? 'B' : 'A'), lostText, conflict.etag);
    assert.equal(retry.status, 200, await retry.clone().text());
    edit += 2;
    assert.equal(await (await fetch(`${r('B').admin}/config`)).text(), lostText);
    await everyEnvoyHas(lostText === y ? edit : edit - 1);
  });
});
