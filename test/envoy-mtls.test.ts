// Real Envoy over mutual TLS, bootstrapped by `adsBootstrap` with certificates made for this run: it
// ends SYNCED and mirrors traffic; with an expired certificate, or one from another CA, it never
// connects; with node-a's certificate claiming node-b it is refused and gets no listener; and rotating
// the control plane's certificate files mid-run keeps its stream while new connections get the new
// certificate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import type { PemFiles } from '../src/tls/local-ca.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { requireEnvoy } from './helpers/envoy.js';
import { httpGet } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { fingerprint, makeTestPki, servedCertificate, SERVER_REQUEST, type TestPki } from './helpers/pki.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';

describe('real Envoy over mutual TLS', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  let serverFiles: PemFiles;
  let primary: RecordingBackend;
  let mirror: RecordingBackend;
  let envoy: RunningEnvoy | undefined;
  const others: RunningEnvoy[] = [];
  let front = 0;
  let baseId = 40;

  const config = (mirrorPercent: number): string => `
listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: mirror, percent: ${mirrorPercent} }] }] }]
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${primary.port}"] }
  - { name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }
`;

  /** Envoy as node `nodeId` presenting `client`; `until: 'admin'` for one expected never to get its config. */
  const startMtlsEnvoy = async (nodeId: string, client: PemFiles, until: 'live' | 'admin' = 'live'): Promise<RunningEnvoy> => {
    const admin = await freePort();
    const file = path.join(pki.dir, `envoy-${nodeId}-${baseId}.yaml`);
    const tls = { caFile: pki.caFile, certFile: client.certFile, keyFile: client.keyFile };
    await writeFile(file, formatDocument(adsBootstrap({ xds: `127.0.0.1:${cp.xdsPort}`, nodeId, nodeCluster: 'test', adminPort: admin, tls }), 'yaml'));
    return startEnvoy(findEnvoy()!, { bootstrapFile: file, adminPort: admin, baseId: baseId++, until });
  };

  const stats = async (e: RunningEnvoy): Promise<Record<string, number>> => {
    const text = await (await fetch(`http://127.0.0.1:${e.adminPort}/stats?filter=^(cluster\\.shadowplane_xds\\.|control_plane\\.)`)).text();
    return Object.fromEntries(text.split('\n').flatMap((l) => (/^(\S+): (\d+)$/.exec(l) ? [[l.split(': ')[0]!, Number(l.split(': ')[1])]] : [])));
  };

  const record = (nodeId: string) => cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === nodeId);
  const synced = (nodeId: string): boolean => {
    const p = record(nodeId);
    const current = cp.controlPlane.cache.snapshotFor(p?.node);
    return !!p && !!current && [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime].every((t) => p.sync(t).state === 'SYNCED' && p.type(t).ackedVersion === current.types.get(t)!.version);
  };

  /** The certificate the xDS port presents to a new TLS connection. */
  const served = (): Promise<string> => servedCertificate(cp.xdsPort, pki.caFile, pki.nodeB);

  before(async () => {
    if (!findEnvoy()) return;
    pki = await makeTestPki();
    serverFiles = await pki.issue('xds-server', SERVER_REQUEST);
    primary = await startRecordingBackend('primary');
    mirror = await startRecordingBackend('mirror');
    front = await freePort();
    cp = await startControlPlane(config(100), { dir: pki.dir, server: { xdsTls: { ...serverFiles, clientCaFile: pki.caFile, refreshMs: 200 } } });
    envoy = await startMtlsEnvoy('node-a', pki.nodeA);
  });

  after(async () => {
    for (const e of others) await e.stop();
    await envoy?.stop();
    await cp?.stop();
    await primary?.close();
    await mirror?.close();
    await pki?.remove();
  });

  it('ends SYNCED over mutual TLS and mirrors traffic', async (t) => {
    if (!requireEnvoy(t)) return;
    await waitFor('node-a SYNCED', () => synced('node-a'));
    const r = await httpGet(front, '/hello', { host: `localhost:${front}` });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'Hello from behind shadowplane (primary)!\n');
    await mirror.waitFor(1);
    assert.equal(mirror.received.at(-1)!.host, `localhost-shadow:${front}`);
    assert.equal((await stats(envoy!))['control_plane.connected_state'], 1);
  });

  it('an Envoy with an expired certificate, or one from another CA, never connects', async (t) => {
    if (!requireEnvoy(t)) return;
    const streamsBefore = cp.controlPlane.ads.proxies.list().length;
    const expired = await startMtlsEnvoy('expired-node', pki.expiredA, 'admin');
    others.push(expired);
    const foreign = await startMtlsEnvoy('foreign-node', pki.foreignA, 'admin');
    others.push(foreign);
    for (const [what, e] of [['expired', expired], ['another CA', foreign]] as const) {
      await waitFor(`${what}: Envoy tried and failed to connect twice`, async () => ((await stats(e))['cluster.shadowplane_xds.upstream_cx_connect_fail'] ?? 0) >= 2, 15_000);
      const s = await stats(e);
      assert.equal(s['control_plane.connected_state'], 0, what);
      assert.equal(s['cluster.shadowplane_xds.upstream_rq_200'] ?? 0, 0, `${what}: no stream was answered`);
      assert.notEqual((await (await fetch(`http://127.0.0.1:${e.adminPort}/ready`)).text()).trim(), 'LIVE', what);
    }
    assert.equal(record('expired-node'), undefined);
    assert.equal(record('foreign-node'), undefined);
    assert.equal(cp.controlPlane.ads.proxies.list().length, streamsBefore);
  });

  it("an Envoy presenting node-a's certificate while claiming node-b is refused and gets no listener", async (t) => {
    if (!requireEnvoy(t)) return;
    const rejections = async (): Promise<number> =>
      ((await cp.controlPlane.metrics.identityRejections.get()).values.find((v) => v.labels.reason === 'identity_mismatch')?.value ?? 0);
    const before = await rejections();
    const impostor = await startMtlsEnvoy('node-b', pki.nodeA, 'admin');
    others.push(impostor);
    await waitFor('refused at least twice (Envoy retries)', async () => (await rejections()) >= before + 2, 15_000);
    const listeners = (await (await fetch(`http://127.0.0.1:${impostor.adminPort}/listeners?format=json`)).json()) as { listener_statuses?: unknown[] };
    assert.deepEqual(listeners.listener_statuses ?? [], []);
    assert.equal((await stats(impostor))['control_plane.connected_state'], 0);
    assert.equal(record('node-b'), undefined);
  });

  it('rotating the server certificate files keeps the Envoy stream; new connections use the new certificate', async (t) => {
    if (!requireEnvoy(t)) return;
    await waitFor('node-a SYNCED', () => synced('node-a'));
    const stream = record('node-a')!;
    const connections = (await stats(envoy!))['cluster.shadowplane_xds.upstream_cx_total'];
    assert.equal(await served(), fingerprint(readFileSync(serverFiles.certFile)));

    const rotated = await pki.rotateServer(serverFiles);
    await waitFor('a new connection gets the new certificate', async () => (await served()) === rotated, 10_000);

    // The next config version reaches Envoy on the stream it already had.
    const mirrored = mirror.received.length;
    await cp.edit(config(0));
    await waitFor('node-a SYNCED on the new version', () => cp.controlPlane.cache.configVersion === 2 && synced('node-a'), 10_000);
    for (let i = 0; i < 5; i++) assert.equal((await httpGet(front, '/after', { host: `localhost:${front}` })).status, 200);
    await sleep(300);
    assert.equal(mirror.received.length, mirrored, 'the new version (0% mirrored) is what Envoy applies');
    assert.equal(record('node-a'), stream, 'the same ADS stream');
    const s = await stats(envoy!);
    assert.equal(s['cluster.shadowplane_xds.upstream_cx_total'], connections, 'Envoy opened no new connection to the control plane');
    assert.equal(s['control_plane.connected_state'], 1);
  });
});
