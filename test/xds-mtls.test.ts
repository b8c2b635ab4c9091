// ADS over mutual TLS, seen from hand-written clients with certificates made for this run: the
// handshake refuses clients without a certificate the CA issued (missing, expired, another CA's); a
// stream whose node is not an identity of its certificate is refused with PERMISSION_DENIED before
// anything is sent, over SotW and delta alike, counted and logged; CSDS tells a client only about the
// nodes it may claim; a later request cannot change a stream's node; a node identity template; a
// server certificate rotated under live streams; `shadowplane proxy` as a client over mutual TLS; and
// TLS without client certificates (no --xds-client-ca): a client that trusts the CA is served, a
// plaintext one is not, and `shadowplane proxy --xds-ca` alone connects.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { decodeDeltaDiscoveryResponse, decodeDiscoveryResponse, encodeDeltaDiscoveryRequest, encodeDiscoveryRequest } from '../src/envoy-api/discovery-codec.js';
import { decodeTyped } from '../src/envoy-api/proto-json.js';
import { envoyProtoRoot } from '../src/envoy-api/proto-root.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { nodeIdentityTemplate } from '../src/tls/node-identity.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { httpGet } from './helpers/http-client.js';
import { fingerprint, makeTestPki, servedCertificate, SERVER_REQUEST, TRUST_DOMAIN, type TestPki } from './helpers/pki.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';
import { REPO_ROOT } from './helpers/repo.js';
import { LocalCa, type PemFiles } from '../src/tls/local-ca.js';

const CONFIG = `
listeners:
  - { name: la, address: 127.0.0.1:1, nodes: [{ id: node-a }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: ca }] }] }
  - { name: lb, address: 127.0.0.1:2, nodes: [{ id: node-b }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: cb }] }] }
clusters:
  - { name: ca, endpoints: ["127.0.0.1:3"] }
  - { name: cb, endpoints: ["127.0.0.1:4"] }
`;

type Method = 'StreamAggregatedResources' | 'DeltaAggregatedResources';

/** One ADS stream over TLS, written by hand: the test sends every message and keeps every response (type and resource names). */
class TlsStream {
  readonly received: Array<{ typeUrl: string; names: string[]; nonce: string; version: string }> = [];
  error: grpc.ServiceError | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;

  constructor(port: number, creds: grpc.ChannelCredentials, readonly method: Method = 'StreamAggregatedResources') {
    this.client = new grpc.Client(`127.0.0.1:${port}`, creds);
    this.call = this.client.makeBidiStreamRequest(`/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`, (b: Buffer) => b, (b: Buffer) => b);
    this.call.on('data', (b: Buffer) => {
      if (method === 'StreamAggregatedResources') {
        const r = decodeDiscoveryResponse(b);
        this.received.push({ typeUrl: r.typeUrl, names: r.resources.map((x) => String(decodeTyped(x.typeUrl, x.value).name)), nonce: r.nonce, version: r.versionInfo });
      } else {
        const r = decodeDeltaDiscoveryResponse(b);
        this.received.push({ typeUrl: r.typeUrl, names: r.resources.map((x) => x.name), nonce: r.nonce, version: r.systemVersionInfo });
      }
    });
    this.call.on('error', (e: grpc.ServiceError) => (this.error = e));
  }

  /** A CDS request (wildcard), naming `node` when given. */
  askClusters(node?: { id: string; cluster: string }, ack?: { version: string; nonce: string }): void {
    this.call.write(
      this.method === 'StreamAggregatedResources'
        ? encodeDiscoveryRequest({ ...(node ? { node } : {}), typeUrl: TypeUrl.Cluster, versionInfo: ack?.version ?? '', responseNonce: ack?.nonce ?? '' })
        : encodeDeltaDiscoveryRequest({ ...(node ? { node } : {}), typeUrl: TypeUrl.Cluster, ...(ack ? { responseNonce: ack.nonce } : { subscribe: ['*'] }) }),
    );
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

function credentials(pki: TestPki, client: PemFiles | undefined): grpc.ChannelCredentials {
  const ca = readFileSync(pki.caFile);
  return client ? grpc.credentials.createSsl(ca, readFileSync(client.keyFile), readFileSync(client.certFile)) : grpc.credentials.createSsl(ca);
}

async function metric(cp: TestControlPlane, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await cp.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want)).reduce((s, v) => s + v.value, 0);
}

const nodeA = { id: 'node-a', cluster: 'test' };
const nodeB = { id: 'node-b', cluster: 'test' };

describe('ADS over mutual TLS (hand-written clients)', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  const logs: Array<Record<string, unknown>> = [];
  const streams: TlsStream[] = [];
  const open = (client: PemFiles | undefined, method?: Method): TlsStream => {
    const s = new TlsStream(cp.xdsPort, credentials(pki, client), method);
    streams.push(s);
    return s;
  };

  before(async () => {
    pki = await makeTestPki();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    cp = await startControlPlane(CONFIG, { logger, server: { xdsTls: { ...pki.server, clientCaFile: pki.caFile } } });
  });
  after(async () => {
    for (const s of streams) s.close();
    await cp?.stop();
    await pki?.remove();
  });

  for (const method of ['StreamAggregatedResources', 'DeltaAggregatedResources'] as const) {
    const protocol = method === 'StreamAggregatedResources' ? 'sotw' : 'delta';

    it(`${protocol}: node-a's certificate as node-a is served node-a's resources only`, async () => {
      const s = open(pki.nodeA, method);
      s.askClusters(nodeA);
      await waitFor('CDS', () => s.received.length === 1);
      assert.deepEqual(s.received[0]!.names, ['ca']);
      assert.equal(s.error, undefined);
    });

    it(`${protocol}: node-a's certificate claiming node-b is refused with PERMISSION_DENIED, gets nothing, is counted and logged`, async () => {
      const before = await metric(cp, 'shadowplane_xds_identity_rejections_total', { protocol, reason: 'identity_mismatch' });
      const s = open(pki.nodeA, method);
      s.askClusters(nodeB);
      await waitFor('the stream ends', () => s.error !== undefined);
      assert.equal(s.error!.code, grpc.status.PERMISSION_DENIED);
      assert.match(s.error!.details, /node "node-b" is not an identity of the client certificate/);
      // A request after the refusal changes nothing either.
      s.askClusters(nodeA);
      await sleep(200);
      assert.deepEqual(s.received, []);
      assert.equal(await metric(cp, 'shadowplane_xds_identity_rejections_total', { protocol, reason: 'identity_mismatch' }), before + 1);
      const text = await (await fetch(`http://127.0.0.1:${cp.adminPort}/metrics`)).text();
      assert.match(text, new RegExp(`^shadowplane_xds_identity_rejections_total\\{protocol="${protocol}",reason="identity_mismatch"\\} ${before + 1}$`, 'm'));
      const logged = logs.filter((l) => l.claimedNode === 'node-b' && l.protocol === protocol).at(-1);
      assert.ok(logged, 'the refusal is logged');
      assert.deepEqual(logged.certificateIdentities, ['DNS:node-a', `URI:spiffe://${TRUST_DOMAIN}/node/node-a`]);
      assert.ok(!cp.controlPlane.ads.proxies.list().some((p) => p.node?.id === 'node-b'), 'no proxy record for the impostor');
    });

    it(`${protocol}: a later request naming another node is refused, and nothing of that node's is ever sent`, async () => {
      const s = open(pki.nodeA, method);
      s.askClusters(nodeA);
      await waitFor('CDS', () => s.received.length === 1);
      s.askClusters(nodeB, { version: s.received[0]!.version, nonce: s.received[0]!.nonce });
      await waitFor('the stream ends', () => s.error !== undefined);
      assert.equal(s.error!.code, grpc.status.PERMISSION_DENIED);
      assert.deepEqual(s.received.flatMap((r) => r.names), ['ca']);
      assert.ok(await metric(cp, 'shadowplane_xds_identity_rejections_total', { protocol, reason: 'node_changed' }) >= 1);
      // Logged as the other refusals are: the id claimed and the certificate's identities.
      const logged = logs.filter((l) => l.reason === 'node_changed' && l.protocol === protocol).at(-1);
      assert.ok(logged, 'the refusal is logged');
      assert.equal(logged.claimedNode, 'node-b');
      assert.deepEqual(logged.certificateIdentities, ['DNS:node-a', `URI:spiffe://${TRUST_DOMAIN}/node/node-a`]);
    });
  }

  it('CSDS on the same port tells a client only about the nodes its certificate may claim', async () => {
    const a = open(pki.nodeA);
    const b = open(pki.nodeB);
    a.askClusters(nodeA);
    b.askClusters(nodeB);
    await waitFor('both served', () => a.received.length === 1 && b.received.length === 1);
    const response = envoyProtoRoot().lookupType('envoy.service.status.v3.ClientStatusResponse');
    const fetchStatus = (client: PemFiles): Promise<string[]> => {
      const c = new grpc.Client(`127.0.0.1:${cp.xdsPort}`, credentials(pki, client));
      return new Promise<string[]>((resolve, reject) => {
        c.makeUnaryRequest('/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e, r) => {
          c.close();
          if (e || !r) return reject(e);
          const decoded = response.toObject(response.decode(r)) as { config?: Array<{ node: { id: string } }> };
          resolve([...new Set((decoded.config ?? []).map((x) => x.node.id))].sort());
        });
      });
    };
    assert.deepEqual(await fetchStatus(pki.nodeA), ['node-a']);
    assert.deepEqual(await fetchStatus(pki.nodeB), ['node-b']);
  });

  it('a first request without a node is refused', async () => {
    const s = open(pki.nodeA);
    s.askClusters();
    await waitFor('the stream ends', () => s.error !== undefined);
    assert.equal(s.error!.code, grpc.status.PERMISSION_DENIED);
    assert.deepEqual(s.received, []);
  });

  it('no client certificate, an expired one, or one from another CA: refused at the handshake, no stream reaches the server', async () => {
    const before = await metric(cp, 'shadowplane_xds_streams_total');
    for (const [what, client] of [['none', undefined], ['expired', pki.expiredA], ['another CA', pki.foreignA]] as const) {
      const s = open(client);
      s.askClusters(nodeA);
      await waitFor(`${what}: the stream fails`, () => s.error !== undefined);
      assert.equal(s.error!.code, grpc.status.UNAVAILABLE, `${what}: ${s.error!.details}`);
      assert.deepEqual(s.received, [], what);
    }
    assert.equal(await metric(cp, 'shadowplane_xds_streams_total'), before);
  });
});

describe('a node identity template', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  before(async () => {
    pki = await makeTestPki();
    cp = await startControlPlane(CONFIG, { server: { xdsTls: { ...pki.server, clientCaFile: pki.caFile, nodeIdentity: nodeIdentityTemplate(`spiffe://${TRUST_DOMAIN}/ns/*/sa/{id}`) } } });
  });
  after(async () => {
    await cp?.stop();
    await pki?.remove();
  });

  it('replaces the default rule: only certificates whose URI fits the template, with the node id in place', async () => {
    const workload = await pki.issue('workload-a', { commonName: 'workload-a', usage: 'client', uris: [`spiffe://${TRUST_DOMAIN}/ns/prod/sa/node-a`] });
    const ok = new TlsStream(cp.xdsPort, credentials(pki, workload));
    const refused = new TlsStream(cp.xdsPort, credentials(pki, pki.nodeA));
    try {
      ok.askClusters(nodeA);
      refused.askClusters(nodeA);
      await waitFor('served', () => ok.received.length === 1);
      assert.deepEqual(ok.received[0]!.names, ['ca']);
      await waitFor('refused', () => refused.error !== undefined);
      assert.equal(refused.error!.code, grpc.status.PERMISSION_DENIED, 'the default rule no longer applies');
    } finally {
      ok.close();
      refused.close();
    }
  });
});

describe('rotating the xDS server certificate', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  let server: PemFiles;
  before(async () => {
    pki = await makeTestPki();
    server = await pki.issue('rotating-server', SERVER_REQUEST);
    cp = await startControlPlane(CONFIG, { server: { xdsTls: { ...server, clientCaFile: pki.caFile, refreshMs: 100 } } });
  });
  after(async () => {
    await cp?.stop();
    await pki?.remove();
  });

  it('keeps established streams (they get the next update on the same stream); new connections get the new certificate', async () => {
    const s = new TlsStream(cp.xdsPort, credentials(pki, pki.nodeA));
    try {
      s.askClusters(nodeA);
      await waitFor('CDS', () => s.received.length === 1);
      s.askClusters(undefined, { version: s.received[0]!.version, nonce: s.received[0]!.nonce });
      const record = cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'node-a')!;
      assert.equal(await servedCertificate(cp.xdsPort, pki.caFile, pki.nodeA), fingerprint(readFileSync(server.certFile)));

      const rotated = await pki.rotateServer(server);
      await waitFor('new connections get the new certificate', async () => (await servedCertificate(cp.xdsPort, pki.caFile, pki.nodeA)) === rotated, 10_000);

      await cp.edit(CONFIG.replace('127.0.0.1:3', '127.0.0.1:5').replace('name: ca,', 'name: ca2,').replace('cluster: ca }', 'cluster: ca2 }'));
      await waitFor('the update arrives on the established stream', () => s.received.some((r) => r.names.includes('ca2')), 10_000);
      assert.equal(s.error, undefined);
      assert.equal(cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'node-a'), record, 'the same stream');
    } finally {
      s.close();
    }
  });

  it('a rotation to files that cannot be used keeps the last good certificate', async () => {
    const before = await servedCertificate(cp.xdsPort, pki.caFile, pki.nodeA);
    await writeFile(server.keyFile, readFileSync(pki.nodeB.keyFile)); // a key that is not the certificate's
    await sleep(500);
    assert.equal(await servedCertificate(cp.xdsPort, pki.caFile, pki.nodeA), before);
  });
});

describe('shadowplane proxy over mutual TLS', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  let child: ChildProcess | undefined;
  let backend: RecordingBackend;
  let log = '';
  after(async () => {
    child?.kill('SIGTERM');
    await cp?.stop();
    await backend?.close();
    await pki?.remove();
  });

  it('connects with --xds-ca --xds-client-cert --xds-client-key (--xds-sni naming the certificate), ends SYNCED and forwards', async () => {
    pki = await makeTestPki();
    backend = await startRecordingBackend('primary');
    const front = await freePort();
    cp = await startControlPlane(
      `listeners:
  - { name: front, address: 127.0.0.1:${front}, nodes: [{ id: node-a }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: primary }] }] }
clusters: [{ name: primary, endpoints: ["127.0.0.1:${backend.port}"] }]
`,
      { server: { xdsTls: { ...pki.server, clientCaFile: pki.caFile } } },
    );
    const admin = await freePort();
    const tls = ['--xds-ca', pki.caFile, '--xds-client-cert', pki.nodeA.certFile, '--xds-client-key', pki.nodeA.keyFile, '--xds-sni', 'localhost'];
    child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'proxy', '--xds', `127.0.0.1:${cp.xdsPort}`, '--node-id', 'node-a', '--admin', `127.0.0.1:${admin}`, ...tls], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('proxy ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${log}`);
    });
    const p = cp.controlPlane.ads.proxies.list().find((x) => x.node?.id === 'node-a')!;
    await waitFor('SYNCED', () => [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration].every((t) => p.sync(t).state === 'SYNCED'));
    assert.equal((await httpGet(front, '/x', { host: 'example.com' })).body, 'Hello from behind shadowplane (primary)!\n');
    assert.match(log, /"xdsTransport":"mutual TLS"/);
  });
});

describe('ADS over TLS without client certificates (--xds-tls-cert and --xds-tls-key, no --xds-client-ca)', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  let backend: RecordingBackend;
  let front = 0;
  let child: ChildProcess | undefined;
  const logs: Array<Record<string, unknown>> = [];
  const streams: TlsStream[] = [];
  const open = (creds: grpc.ChannelCredentials): TlsStream => {
    const s = new TlsStream(cp.xdsPort, creds);
    streams.push(s);
    return s;
  };

  before(async () => {
    pki = await makeTestPki();
    backend = await startRecordingBackend('primary');
    front = await freePort();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    cp = await startControlPlane(
      `listeners:
  - { name: front, address: 127.0.0.1:${front}, nodes: [{ id: node-a }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: primary }] }] }
  - { name: lb, address: 127.0.0.1:2, nodes: [{ id: node-b }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: cb }] }] }
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${backend.port}"] }
  - { name: cb, endpoints: ["127.0.0.1:4"] }
`,
      { logger, server: { xdsTls: { ...pki.server } } },
    );
  });
  after(async () => {
    for (const s of streams) s.close();
    child?.kill('SIGTERM');
    await cp?.stop();
    await backend?.close();
    await pki?.remove();
  });

  it('the server says it serves TLS (not mutual); a client that trusts the CA and has no certificate is served, for the node it names', async () => {
    assert.ok(logs.some((l) => l.xdsTransport === 'TLS'), 'the start-up log names the transport TLS');
    assert.ok(!logs.some((l) => 'nodeIdentity' in l), 'no node identity rule without client certificates');
    assert.equal(await servedCertificate(cp.xdsPort, pki.caFile), fingerprint(readFileSync(pki.server.certFile)));
    const a = open(credentials(pki, undefined));
    const b = open(credentials(pki, undefined));
    a.askClusters(nodeA);
    b.askClusters(nodeB);
    await waitFor('CDS', () => a.received.length === 1 && b.received.length === 1);
    assert.deepEqual(a.received[0]!.names, ['primary']);
    assert.deepEqual(b.received[0]!.names, ['cb']);
    assert.equal(a.error, undefined);
    assert.equal(b.error, undefined);
  });

  it('a plaintext client, or one that does not trust the server certificate, fails at the connection: no stream reaches the server', async () => {
    const before = await metric(cp, 'shadowplane_xds_streams_total');
    const other = await LocalCa.create('a CA the server does not use');
    for (const [what, creds] of [
      ['plaintext', grpc.credentials.createInsecure()],
      ['another CA', grpc.credentials.createSsl(Buffer.from(other.certPem))],
    ] as const) {
      const s = open(creds);
      s.askClusters(nodeA);
      await waitFor(`${what}: the stream fails`, () => s.error !== undefined);
      assert.equal(s.error!.code, grpc.status.UNAVAILABLE, `${what}: ${s.error!.details}`);
      assert.deepEqual(s.received, [], what);
    }
    assert.equal(await metric(cp, 'shadowplane_xds_streams_total'), before);
  });

  it('shadowplane proxy with --xds-ca alone (no client certificate) connects, ends SYNCED and forwards', async () => {
    const admin = await freePort();
    let log = '';
    child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'proxy', '--xds', `127.0.0.1:${cp.xdsPort}`, '--node-id', 'node-a', '--admin', `127.0.0.1:${admin}`, '--xds-ca', pki.caFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('proxy ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${log}`);
    });
    // (The hand-written node-a stream of the first test asks for clusters only.)
    await waitFor('SYNCED', () => cp.controlPlane.ads.proxies.list().some((x) => x.node?.id === 'node-a' && [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration].every((t) => x.sync(t).state === 'SYNCED')));
    assert.equal((await httpGet(front, '/x', { host: 'example.com' })).body, 'Hello from behind shadowplane (primary)!\n');
    assert.match(log, /"xdsTransport":"TLS"/);
  });
});
