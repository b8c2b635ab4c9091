// `shadowplane proxy --xds`: the data path as an xDS client of a remote control plane. It applies what
// it is sent, follows edits, and NACKs what it cannot honour with the reason, keeping the last good set.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { EnvoyLikeSubscriber } from '../src/xds-client/envoy-like-subscriber.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { httpGet } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';
import { REPO_ROOT } from './helpers/repo.js';

describe('shadowplane proxy --xds', () => {
  let cp: TestControlPlane;
  let child: ChildProcess;
  let primary: RecordingBackend;
  let mirror: RecordingBackend;
  let front = 0;
  let taken: Server;
  let takenPort = 0;
  let log = '';
  let admin = 0;

  const config = (o: { percent: number; extraListener?: number }): string => `listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: mirror, percent: ${o.percent}, compare: {} }] }] }]
${o.extraListener ? `  - { name: clash, address: 127.0.0.1:${o.extraListener}, virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: primary }] }] }` : ''}
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${primary.port}"] }
  - { name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }
`;

  before(async () => {
    primary = await startRecordingBackend('primary');
    mirror = await startRecordingBackend('mirror');
    front = await freePort();
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    takenPort = (taken.address() as { port: number }).port;
    cp = await startControlPlane(config({ percent: 100 }));
    admin = await freePort();
    child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'proxy', '--xds', `127.0.0.1:${cp.xdsPort}`, '--node-id', 'ts-proxy-1', '--admin', `127.0.0.1:${admin}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('proxy ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 20_000);
  });

  after(async () => {
    child?.kill('SIGTERM');
    await cp?.stop();
    await primary?.close();
    await mirror?.close();
    taken?.close();
  });

  const synced = (): boolean => {
    const p = cp.controlPlane.ads.proxies.list().find((x) => x.node?.id === 'ts-proxy-1');
    return !!p && [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime].every((t) => p.sync(t).state === 'SYNCED');
  };

  it('serves what the control plane sends: primary answers, the mirror gets a -shadow copy; status SYNCED', async () => {
    await waitFor('SYNCED', synced).catch((e: Error) => {
      throw new Error(`${e.message}\n${log}`);
    });
    const r = await httpGet(front, '/hello', { host: 'example.com' });
    assert.equal(r.body, 'Hello from behind shadowplane (primary)!\n');
    await mirror.waitFor(1);
    assert.equal(mirror.received.at(-1)!.host, 'example.com-shadow');
  });

  it('compares the copy\'s response as the route metadata sent over xDS says, and shows it at /mirror_diffs', async () => {
    type Diffs = { mismatch: number; recent: Array<{ differences: Array<{ field: string }> }> };
    const diffs = async (): Promise<Diffs> => (await (await fetch(`http://127.0.0.1:${admin}/mirror_diffs`)).json()) as Diffs;
    await waitFor('a mismatch', async () => (await diffs()).mismatch >= 1);
    assert.deepEqual((await diffs()).recent[0]!.differences.map((d) => d.field), ['body']);
  });

  it('follows a percentage change that arrives over RTDS alone', async () => {
    await cp.edit(config({ percent: 0 }));
    await waitFor('runtime applied', () => synced() && cp.controlPlane.cache.configVersion >= 2);
    await sleep(200);
    const before = mirror.received.length;
    for (let i = 0; i < 50; i++) await httpGet(front, '/x', { host: 'example.com' });
    await sleep(300);
    assert.equal(mirror.received.length, before, '0% still mirrored');
  });

  it('NACKs a listener it cannot bind, with the reason, and keeps serving the last good config', async () => {
    await cp.edit(config({ percent: 0, extraListener: takenPort }));
    const p = () => cp.controlPlane.ads.proxies.list().find((x) => x.node?.id === 'ts-proxy-1')!;
    // The new listener warms until its routes arrive (as in Envoy); the set that would bind it is NACKed.
    const nacked = () => [TypeUrl.Listener, TypeUrl.RouteConfiguration].filter((t) => p().sync(t).state === 'NACKED').map((t) => p().type(t))[0];
    await waitFor('NACKED', () => nacked() !== undefined);
    assert.match(nacked()!.lastNack!.message, /EADDRINUSE|address already in use|bind/i);
    assert.equal((await httpGet(front, '/still', { host: 'example.com' })).status, 200);
    await cp.edit(config({ percent: 100 }));
    await waitFor('SYNCED again', synced);
    const before = mirror.received.length;
    await httpGet(front, '/again', { host: 'example.com' });
    await mirror.waitFor(before + 1);
  });
});

describe('the xDS client reconnecting', () => {
  it('makes one attempt per backoff step while the control plane is gone, and holds one stream once it is back', async () => {
    const xdsPort = await freePort(); // nothing listens here yet
    const subscriber = new EnvoyLikeSubscriber({
      target: `127.0.0.1:${xdsPort}`,
      node: { id: 'edge-1', cluster: 'c' },
      runtimeLayers: [],
      apply: async () => undefined,
      backoffMs: { initial: 100, max: 400 },
    });
    const failures: number[] = [];
    subscriber.on('disconnected', () => failures.push(Date.now()));
    subscriber.start();
    let cp: TestControlPlane | undefined;
    try {
      await sleep(2500);
      // 100 + 200 + 400 + 400…: about eight attempts, each failing once.
      assert.ok(failures.length >= 4 && failures.length <= 10, `${failures.length} failures in 2.5 s`);
      const gaps = failures.slice(1).map((t, i) => t - failures[i]!);
      assert.ok(gaps.every((g) => g >= 50), `attempts overlap (gaps ${gaps.join(', ')} ms)`);
      cp = await startControlPlane(`listeners:
  - { name: front, address: 127.0.0.1:${await freePort()}, virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a }] }] }
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
`, { xdsPort });
      const streams = (): number => cp!.controlPlane.ads.proxies.list().filter((x) => x.node?.id === 'edge-1').length;
      await waitFor('reconnected', () => streams() >= 1);
      await sleep(1500); // every attempt still scheduled would have fired by now
      assert.equal(streams(), 1, 'one proxy, one stream');
    } finally {
      subscriber.stop();
      await cp?.stop();
    }
  });
});

