// A real Envoy kept in sync by shadowplane over ADS: seed 000's walkthrough, sampling and its live
// change over RTDS alone, hot updates under load, a NACK and recovery, a control-plane restart under
// load, and delta xDS with two node groups.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { httpGet } from './helpers/http-client.js';
import { startLoad } from './helpers/load.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';

const BACKENDS = ['service1', 'service1-mirror', 'service2', 'service2-mirror', 'sample', 'sample-mirror', 'hot', 'hot-a', 'hot-b', 'hot-c', 'edge'] as const;
type Name = (typeof BACKENDS)[number];

interface Knobs {
  /** The name of the cluster behind /hot's primary: renaming it removes the old cluster in the same edit. */
  hotCluster: string;
  /** Likewise for the edge listener's cluster, which the delta Envoy uses. */
  edgeCluster: string;
  /** Points the edge route at another cluster, leaving the edge cluster unused (and so removed). */
  edgeRouteTo?: Name;
  samplePercent: number;
  hotMirrors: readonly Name[];
  /** An extra route whose regex Envoy rejects (its RE2 program, `.` costing Envoy two instructions, exceeds 100) though validation cannot tell. */
  nackRoute: boolean;
}

describe('real Envoy over ADS', () => {
  const b = {} as Record<Name, RecordingBackend>;
  let cp: TestControlPlane;
  let envoy: RunningEnvoy | undefined;
  let front = 0;
  let edgePort = 0;
  let xdsPort = 0;
  let dir = '';
  const knobs: Knobs = { hotCluster: 'hot', edgeCluster: 'edge', samplePercent: 50, hotMirrors: ['hot-a'], nackRoute: false };

  const config = (k: Knobs): string => `
listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - name: backend
        domains: ["*"]
        routes:
          - { name: service1, match: { prefix: /service/1 }, cluster: service1, mirrors: [{ cluster: service1-mirror }] }
          - name: service2
            match: { prefix: /service/2 }
            cluster: service2
            mirrors: [{ cluster_header: x-mirror-cluster, allowed_clusters: [service2-mirror] }]
          - { name: sample, match: { prefix: /sample }, cluster: sample, mirrors: [{ cluster: sample-mirror, percent: ${k.samplePercent} }] }
          - name: hot
            match: { prefix: /hot }
            cluster: ${k.hotCluster}
${k.hotMirrors.length > 0 ? `            mirrors: [${k.hotMirrors.map((m) => `{ cluster: ${m} }`).join(', ')}]` : ''}
${k.nackRoute ? `          - { name: nack, match: { regex: "/nack.{90}" }, cluster: ${k.hotCluster} }` : ''}
  - name: edge
    address: 127.0.0.1:${edgePort}
    nodes: [{ id: "edge-*" }]
    virtual_hosts: [{ name: edge, domains: ["*"], routes: [{ match: { prefix: / }, cluster: ${k.edgeRouteTo ?? k.edgeCluster} }] }]
clusters:
${BACKENDS.map((n) => `  - { name: ${n === 'hot' ? k.hotCluster : n === 'edge' ? k.edgeCluster : n}, endpoints: ["127.0.0.1:${b[n].port}"], connect_timeout: 1s }`).join('\n')}
`;

  const apply = async (k: Partial<Knobs>): Promise<void> => {
    const before = cp.controlPlane.cache.configVersion;
    Object.assign(knobs, k);
    await cp.edit(config(knobs));
    await waitFor('config version published', () => cp.controlPlane.cache.configVersion > before || cp.controlPlane.lastRejected !== undefined);
  };

  const proxy = (nodeId: string) => cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === nodeId);
  const synced = (nodeId: string): boolean => {
    const p = proxy(nodeId);
    const current = cp.controlPlane.cache.snapshotFor(p?.node);
    if (!p || !current) return false;
    return [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime].every((t) => {
      const st = p.type(t);
      return p.sync(t).state === 'SYNCED' && st.ackedVersion === current.types.get(t)!.version;
    });
  };

  const startFrontEnvoy = async (id: string, delta: boolean, baseId: number): Promise<RunningEnvoy> => {
    const admin = await freePort();
    const file = path.join(dir, `${id}.yaml`);
    await writeFile(file, formatDocument(adsBootstrap({ xds: `127.0.0.1:${xdsPort}`, nodeId: id, nodeCluster: 'test', adminPort: admin, delta }), 'yaml'));
    return startEnvoy(findEnvoy()!, { bootstrapFile: file, adminPort: admin, baseId });
  };

  before(async () => {
    if (!findEnvoy()) return;
    for (const n of BACKENDS) b[n] = await startRecordingBackend(n);
    [front, edgePort, xdsPort] = [await freePort(), await freePort(), await freePort()];
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-ads-'));
    cp = await startControlPlane(config(knobs), { xdsPort, dir });
    envoy = await startFrontEnvoy('front-1', false, 21);
    await waitFor('front-1 SYNCED', () => synced('front-1'));
  });

  after(async () => {
    await envoy?.stop();
    await cp?.stop();
    for (const x of Object.values(b)) await x.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = (p: string, headers: Record<string, string> = {}) => httpGet(front, p, { host: `localhost:${front}`, ...headers });
  const settle = (): Promise<void> => sleep(300);

  it('seed 000 through ADS: static mirror, header-selected mirror, and no mirror without an allowed header', async (t) => {
    if (!requireEnvoy(t)) return;
    assert.equal((await get('/service/1')).body, 'Hello from behind shadowplane (service1)!\n');
    await b['service1-mirror'].waitFor(1);
    assert.equal(b['service1-mirror'].received.at(-1)!.host, `localhost-shadow:${front}`);
    assert.equal((await get('/service/2', { 'x-mirror-cluster': 'service2-mirror' })).body, 'Hello from behind shadowplane (service2)!\n');
    await b['service2-mirror'].waitFor(1);
    const before = b['service2-mirror'].received.length;
    await get('/service/2');
    await get('/service/2', { 'x-mirror-cluster': 'service2-mirror-non-existent' });
    await settle();
    assert.equal(b['service2-mirror'].received.length, before);
  });

  it('50% sampling lands within a binomial tolerance; a change over RTDS alone takes effect', async (t) => {
    if (!requireEnvoy(t)) return;
    const N = 1000;
    const measure = async (): Promise<number> => {
      const start = b['sample-mirror'].received.length;
      const load = startLoad({ port: front, path: '/sample', headers: { host: 'localhost' }, concurrency: 8, maxMs: 60_000, maxRequests: N });
      const r = await load.finished();
      assert.deepEqual(r.failures, []);
      assert.equal(r.sent, N);
      await settle();
      return b['sample-mirror'].received.length - start;
    };
    // 5 standard deviations: a false failure about once in 1.7 million runs.
    const within = (count: number, p: number): boolean => Math.abs(count - N * p) <= 5 * Math.sqrt(N * p * (1 - p));
    const at50 = await measure();
    assert.ok(within(at50, 0.5), `${at50} of ${N} mirrored at 50%`);

    const p = proxy('front-1')!;
    const rdsBefore = p.type(TypeUrl.RouteConfiguration).sentVersion;
    const rtdsBefore = p.type(TypeUrl.Runtime).sentVersion;
    await apply({ samplePercent: 10 });
    await waitFor('RTDS acked', () => synced('front-1') && p.type(TypeUrl.Runtime).ackedVersion !== rtdsBefore);
    assert.equal(p.type(TypeUrl.RouteConfiguration).sentVersion, rdsBefore, 'no route was pushed');
    const at10 = await measure();
    assert.ok(within(at10, 0.1), `${at10} of ${N} mirrored at 10%`);
  });

  it('hot updates under load: 20 edits add, remove and retarget mirrors; no failed request; the same Envoy throughout', async (t) => {
    if (!requireEnvoy(t)) return;
    const pid = envoy!.process.pid;
    const plan: Name[][] = [['hot-b'], ['hot-b', 'hot-c'], ['hot-c'], ['hot-a', 'hot-c'], ['hot-a']];
    const load = startLoad({ port: front, path: '/hot', headers: { host: 'localhost' }, concurrency: 4, maxMs: 120_000, maxRequests: 200_000 });
    const lags: number[] = [];
    for (let i = 0; i < 20; i++) {
      const mirrors = plan[i % plan.length]!;
      const start = Date.now();
      await apply({ hotMirrors: mirrors });
      // The edit is live when a probe reaches every mirror of the new set.
      const probe = `edit-${i}`;
      await waitFor(`edit ${i} visible at ${mirrors.join(',')}`, async () => {
        await get('/hot', { 'x-probe': probe });
        return mirrors.every((m) => b[m].received.some((r) => r.headers['x-probe'] === probe));
      }, 10_000);
      lags.push(Date.now() - start);
      // …and a mirror that left the set gets no more copies.
      const gone = (['hot-a', 'hot-b', 'hot-c'] as const).filter((m) => !mirrors.includes(m));
      const counts = gone.map((m) => b[m].received.length);
      await get('/hot', { 'x-probe': `${probe}-after` });
      await settle();
      assert.deepEqual(gone.map((m) => b[m].received.length), counts, `edit ${i}: removed mirrors still got copies`);
    }
    const r = await load.stop();
    assert.deepEqual(r.failures, [], `${r.failures.length} of ${r.sent} requests failed`);
    assert.ok(r.sent > 100, `load ran (${r.sent} requests)`);
    assert.equal(envoy!.process.pid, pid);
    assert.equal(envoy!.process.exitCode, null);
    t.diagnostic(`edit → visible at the mirrors: max ${Math.max(...lags)} ms over 20 edits; ${r.sent} requests, 0 failed`);
  });

  it('renaming a primary cluster under load (the old one removed in the same edit) fails no request', async (t) => {
    if (!requireEnvoy(t)) return;
    const load = startLoad({ port: front, path: '/hot', headers: { host: 'localhost' }, concurrency: 4, maxMs: 60_000, maxRequests: 200_000 });
    for (let i = 1; i <= 10; i++) {
      await apply({ hotCluster: `hot-v${i}` });
      await waitFor(`rename ${i} acked`, () => synced('front-1'));
    }
    const r = await load.stop();
    assert.deepEqual(r.failures, [], `${r.failures.length} of ${r.sent} requests failed`);
  });

  it('a version Envoy rejects is NACKED with Envoy’s message, not re-sent, and traffic keeps flowing; the next good edit recovers', async (t) => {
    if (!requireEnvoy(t)) return;
    const p = proxy('front-1')!;
    const rds = p.type(TypeUrl.RouteConfiguration);
    await apply({ nackRoute: true });
    await waitFor('NACK recorded', () => p.sync(TypeUrl.RouteConfiguration).state === 'NACKED');
    assert.match(rds.lastNack!.message, /regex|re2|invalid/i);
    const pushes = async (): Promise<number> => {
      const m = await cp.controlPlane.metrics.pushes.get();
      return m.values.filter((v) => v.labels.type === 'RDS').reduce((a, v) => a + v.value, 0);
    };
    const before = await pushes();
    for (let i = 0; i < 20; i++) assert.equal((await get('/service/1')).status, 200);
    await sleep(1000);
    assert.equal(await pushes(), before, 'the rejected version was sent again');
    assert.equal(p.sync(TypeUrl.RouteConfiguration).state, 'NACKED');
    await apply({ nackRoute: false });
    await waitFor('SYNCED again', () => synced('front-1'));
  });

  it('a control-plane restart under load fails no request, and Envoy ends SYNCED', async (t) => {
    if (!requireEnvoy(t)) return;
    const load = startLoad({ port: front, path: '/service/1', headers: { host: 'localhost' }, concurrency: 4, maxMs: 60_000, maxRequests: 200_000 });
    await cp.stop();
    await sleep(500);
    cp = await startControlPlane(config(knobs), { xdsPort, dir });
    await waitFor('front-1 reconnected and SYNCED', () => synced('front-1'), 30_000);
    const r = await load.stop();
    assert.deepEqual(r.failures, []);
    assert.ok(r.sent > 50, `load ran (${r.sent} requests)`);
  });

  it('delta xDS, and two node groups that get different listeners', async (t) => {
    if (!requireEnvoy(t)) return;
    const edge = await startFrontEnvoy('edge-1', true, 22);
    try {
      await waitFor('edge-1 SYNCED over delta', () => synced('edge-1'));
      assert.equal(proxy('edge-1')!.protocol, 'delta');
      const viaEdge = await httpGet(edgePort, '/x', { host: 'localhost' });
      assert.equal(viaEdge.body, 'Hello from behind shadowplane (edge)!\n');
      const listeners = async (admin: number): Promise<string[]> =>
        ((await (await fetch(`http://127.0.0.1:${admin}/listeners?format=json`)).json()) as { listener_statuses: Array<{ name: string }> }).listener_statuses.map((l) => l.name).sort();
      assert.deepEqual(await listeners(edge.adminPort), ['edge', 'front']);
      assert.deepEqual(await listeners(envoy!.adminPort), ['front']);
      // Make-before-break over delta too: renaming the edge cluster under load fails no request.
      const load = startLoad({ port: edgePort, path: '/x', headers: { host: 'localhost' }, concurrency: 4, maxMs: 60_000, maxRequests: 200_000 });
      for (let i = 1; i <= 5; i++) {
        await apply({ edgeCluster: `edge-v${i}` });
        await waitFor(`edge rename ${i} acked`, () => synced('edge-1'));
      }
      const r = await load.stop();
      assert.deepEqual(r.failures, [], `${r.failures.length} of ${r.sent} requests failed`);

      // The edit that once never reached a delta Envoy: point the route at another cluster, so the old
      // one is no longer used. Status must not say SYNCED before Envoy routes the new way.
      const answer = async (): Promise<string> => (await httpGet(edgePort, '/x', { host: 'localhost' })).body;
      await apply({ edgeRouteTo: 'service2' });
      await waitFor('the edge route follows the edit', async () => {
        const body = await answer();
        assert.ok(body.includes('(service2)') || !synced('edge-1'), `status says SYNCED while Envoy still answers ${body.trim()}`);
        return body.includes('(service2)');
      }, 10_000);
      await waitFor('edge-1 SYNCED on the new version', () => synced('edge-1') && proxy('edge-1')!.synced());
      await apply({ edgeRouteTo: undefined });
      await waitFor('and back', async () => (await answer()).includes('(edge'), 10_000);
    } finally {
      await edge.stop();
    }
  });
});
