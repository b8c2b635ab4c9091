// The ADS protocol as the server speaks it, seen from a scripted client: versions, nonces, ACK and
// NACK, stale nonces, named and wildcard subscriptions, delta with initial_resource_versions, version
// gating, and snapshot consistency.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { decodeDiscoveryResponse, encodeDiscoveryRequest, type DecodedDeltaResponse, type DecodedResponse } from '../src/envoy-api/discovery-codec.js';
import { decodeTyped, encodeAs, type JsonObject } from '../src/envoy-api/proto-json.js';
import { envoyProtoRoot } from '../src/envoy-api/proto-root.js';
import { resourceReferences } from '../src/envoy-api/resource-references.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { parseConfig } from '../src/config/load.js';
import { buildModel } from '../src/model/build.js';
import { DeltaClient } from '../src/xds-client/delta-client.js';
import { ResourceEncoder } from '../src/xds/encoded-resource.js';
import { buildSnapshot, checkConsistency } from '../src/xds/snapshot.js';
import { translate } from '../src/translate/resources.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';

const CONFIG = (percent: number, mirror = 'm1', withM2 = true): string => `
listeners:
  - name: front
    address: 127.0.0.1:1
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes:
          - name: r
            match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster: ${mirror}, percent: ${percent}, host_rewrite: shadow.example }
${withM2 ? '          - { name: r2, match: { prefix: /two }, cluster: m2 }' : ''}
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
  - { name: m1, endpoints: ["127.0.0.1:2"] }
${withM2 ? '  - { name: m2, endpoints: ["127.0.0.1:3"] }' : ''}
`;

/** A raw ADS stream whose every message the test sends and inspects itself. */
class ScriptedStream {
  readonly received: DecodedResponse[] = [];
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private waiters: Array<() => void> = [];

  constructor(port: number, method: 'StreamAggregatedResources' | 'DeltaAggregatedResources' = 'StreamAggregatedResources', onBytes?: (b: Buffer) => void) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = this.client.makeBidiStreamRequest(`/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`, (b: Buffer) => b, (b: Buffer) => b);
    this.call.on('data', (b: Buffer) => {
      if (onBytes) onBytes(b);
      else this.received.push(decodeDiscoveryResponse(b));
      for (const w of this.waiters) w();
    });
    this.call.on('error', () => undefined);
  }

  send(bytes: Buffer): void {
    this.call.write(bytes);
  }

  async next(count: number, ms = 3000): Promise<void> {
    await waitFor(`${count} responses`, () => this.received.length >= count, ms);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

const node = { id: 'scripted-1', cluster: 'test' };
const quiet = (ms = 300): Promise<void> => sleep(ms);

function nodeWithVersion(version: [number, number, number]): JsonObject {
  return { id: 'old-envoy', cluster: 'test', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: version[0], minor_number: version[1], patch: version[2] } } };
}

describe('ADS state of the world (scripted client)', () => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startControlPlane(CONFIG(50));
  });
  after(async () => {
    await cp.stop();
  });

  it('answers a wildcard CDS request, then stays quiet after the ACK', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    s.send(encodeDiscoveryRequest({ node, typeUrl: TypeUrl.Cluster }));
    await s.next(1);
    const r = s.received[0]!;
    assert.equal(r.typeUrl, TypeUrl.Cluster);
    assert.deepEqual(r.resources.map((x) => decodeTyped(x.typeUrl, x.value).name), ['a', 'm1', 'm2']);
    s.send(encodeDiscoveryRequest({ typeUrl: TypeUrl.Cluster, versionInfo: r.versionInfo, responseNonce: r.nonce }));
    await quiet();
    assert.equal(s.received.length, 1);
    const rec = cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'scripted-1')!;
    assert.equal(rec.sync(TypeUrl.Cluster).state, 'SYNCED');
    s.close();
  });

  it('serves named RDS/EDS subscriptions and only what was named', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    s.send(encodeDiscoveryRequest({ node, typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['m1', 'nope'] }));
    await s.next(1);
    assert.deepEqual(s.received[0]!.resources.map((x) => decodeTyped(x.typeUrl, x.value).cluster_name), ['m1']);
    s.close();
  });

  it('a NACKed version is recorded with Envoy’s message and not sent again; the next change is', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    s.send(encodeDiscoveryRequest({ node: { id: 'nacker', cluster: 'test' }, typeUrl: TypeUrl.RouteConfiguration, resourceNames: ['front'] }));
    await s.next(1);
    const first = s.received[0]!;
    s.send(
      encodeDiscoveryRequest({ typeUrl: TypeUrl.RouteConfiguration, resourceNames: ['front'], versionInfo: '', responseNonce: first.nonce, errorDetail: { code: 3, message: 'rejected for the test' } }),
    );
    await quiet();
    // Envoy re-requests with its last accepted version; the rejected version must not come back.
    s.send(encodeDiscoveryRequest({ typeUrl: TypeUrl.RouteConfiguration, resourceNames: ['front'], versionInfo: '', responseNonce: first.nonce }));
    await quiet();
    assert.equal(s.received.length, 1);
    const rec = cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'nacker')!;
    assert.equal(rec.sync(TypeUrl.RouteConfiguration).state, 'NACKED');
    assert.equal(rec.type(TypeUrl.RouteConfiguration).lastNack?.message, 'rejected for the test');
    // A route change (a new mirror target) is sent.
    await cp.edit(CONFIG(50, 'm2'));
    await s.next(2);
    assert.notEqual(s.received[1]!.versionInfo, first.versionInfo);
    await cp.edit(CONFIG(50));
    s.close();
  });

  it('ignores a request with a stale nonce', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    s.send(encodeDiscoveryRequest({ node: { id: 'stale', cluster: 'test' }, typeUrl: TypeUrl.Cluster }));
    await s.next(1);
    s.send(encodeDiscoveryRequest({ typeUrl: TypeUrl.Cluster, versionInfo: '', responseNonce: 'not-a-nonce-we-sent', errorDetail: { code: 3, message: 'stale' } }));
    await quiet();
    const rec = cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'stale')!;
    assert.equal(rec.type(TypeUrl.Cluster).lastNack, undefined);
    s.close();
  });

  it('a percentage-only edit pushes the Runtime resource and no route', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    s.send(encodeDiscoveryRequest({ node: { id: 'rtds', cluster: 'test' }, typeUrl: TypeUrl.Runtime, resourceNames: ['shadowplane_mirrors'] }));
    s.send(encodeDiscoveryRequest({ typeUrl: TypeUrl.RouteConfiguration, resourceNames: ['front'] }));
    await s.next(2);
    for (const r of s.received) s.send(encodeDiscoveryRequest({ typeUrl: r.typeUrl, resourceNames: r.typeUrl === TypeUrl.Runtime ? ['shadowplane_mirrors'] : ['front'], versionInfo: r.versionInfo, responseNonce: r.nonce }));
    const rtds = s.received.find((r) => r.typeUrl === TypeUrl.Runtime)!;
    const layer = decodeTyped(rtds.resources[0]!.typeUrl, rtds.resources[0]!.value).layer as JsonObject;
    assert.deepEqual(layer, { 'shadowplane.mirror.front.v.r.m1': { denominator: 'HUNDRED', numerator: 50 } });
    const route = decodeTyped(TypeUrl.RouteConfiguration, s.received.find((r) => r.typeUrl === TypeUrl.RouteConfiguration)!.resources[0]!.value);
    assert.match(JSON.stringify(route), /"default_value":\{"numerator":0,"denominator":"HUNDRED"\}/);

    await cp.edit(CONFIG(12.5));
    await s.next(3);
    await quiet();
    assert.equal(s.received.length, 3, 'exactly one more response');
    const pushed = s.received[2]!;
    assert.equal(pushed.typeUrl, TypeUrl.Runtime);
    assert.deepEqual(decodeTyped(pushed.resources[0]!.typeUrl, pushed.resources[0]!.value).layer, {
      'shadowplane.mirror.front.v.r.m1': { denominator: 'TEN_THOUSAND', numerator: 1250 },
    });
    await cp.edit(CONFIG(50));
    s.close();
  });

  it('gives an Envoy older than 1.36 the nearest form it understands, with a warning in status', async () => {
    const s = new ScriptedStream(cp.xdsPort);
    const bytes = encodeAs('envoy.service.discovery.v3.DiscoveryRequest', { node: nodeWithVersion([1, 35, 3]), type_url: TypeUrl.RouteConfiguration, resource_names: ['front'] });
    s.send(Buffer.from(bytes));
    await s.next(1);
    const route = JSON.stringify(decodeTyped(TypeUrl.RouteConfiguration, s.received[0]!.resources[0]!.value));
    assert.doesNotMatch(route, /host_rewrite_literal/);
    assert.match(route, /"cluster":"m1"/);
    const rec = cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'old-envoy')!;
    assert.equal(rec.node?.envoyVersion, '1.35.3');
    assert.deepEqual(rec.warnings, ['RequestMirrorPolicy.host_rewrite_literal needs Envoy >= 1.36.0; left out for Envoy 1.35.3 (front/v/r)']);
    s.close();
  });

  it('rejects an edit that does not validate and keeps serving the last good version', async () => {
    // The previous test's last edit may still be on its way through the watcher: let it land first.
    await waitFor('the config settled', async () => {
      const v = cp.controlPlane.cache.configVersion;
      await sleep(300);
      return !cp.controlPlane.source.changing && cp.controlPlane.cache.configVersion === v;
    });
    const before = cp.controlPlane.cache.configVersion;
    await cp.edit(CONFIG(50).replace('cluster: a', 'cluster: ghost'));
    await waitFor('rejection recorded', () => cp.controlPlane.lastRejected !== undefined);
    assert.equal(cp.controlPlane.cache.configVersion, before);
    assert.match(cp.controlPlane.lastRejected!.problems[0]!, /shadowplane\.yaml:\d+:\d+ listeners\[0\]\.virtual_hosts\[0\]\.routes\[0\]\.cluster: unknown cluster "ghost"/);
    await cp.edit(CONFIG(50));
  });
});

describe('ADS delta (scripted client)', () => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startControlPlane(CONFIG(50));
  });
  after(async () => {
    await cp.stop();
  });

  type Delta = { system_version_info: string; nonce: string; resources?: Array<{ name: string; version: string }>; removed_resources?: string[] };
  const decodeDelta = (b: Buffer): Delta => {
    const t = envoyProtoRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    return t.toObject(t.decode(b), { defaults: false }) as Delta;
  };
  const deltaRequest = (o: JsonObject): Buffer => Buffer.from(encodeAs('envoy.service.discovery.v3.DeltaDiscoveryRequest', o));

  it('sends everything first, then only what changed, and removals by name', async () => {
    const got: Delta[] = [];
    const s = new ScriptedStream(cp.xdsPort, 'DeltaAggregatedResources', (b) => got.push(decodeDelta(b)));
    s.send(deltaRequest({ node, type_url: TypeUrl.Cluster }));
    await waitFor('first delta', () => got.length === 1);
    assert.deepEqual(got[0]!.resources!.map((r) => r.name), ['a', 'm1', 'm2']);
    s.send(deltaRequest({ type_url: TypeUrl.Cluster, response_nonce: got[0]!.nonce }));
    await cp.edit(CONFIG(50, 'm1', false));
    await waitFor('second delta', () => got.length === 2);
    assert.deepEqual(got[1]!.resources ?? [], []);
    assert.deepEqual(got[1]!.removed_resources, ['m2']);
    // One response per type on the wire: the next goes out once this one is acknowledged.
    s.send(deltaRequest({ type_url: TypeUrl.Cluster, response_nonce: got[1]!.nonce }));
    await cp.edit(CONFIG(50));
    await waitFor('third delta', () => got.length === 3);
    assert.deepEqual(got[2]!.resources!.map((r) => r.name), ['m2']);
    s.close();
  });

  it('honours initial_resource_versions on reconnect', async () => {
    const first: Delta[] = [];
    const s1 = new ScriptedStream(cp.xdsPort, 'DeltaAggregatedResources', (b) => first.push(decodeDelta(b)));
    s1.send(deltaRequest({ node, type_url: TypeUrl.Cluster }));
    await waitFor('delta', () => first.length === 1);
    s1.close();
    const versions = Object.fromEntries(first[0]!.resources!.map((r) => [r.name, r.version]));
    versions.m1 = 'outdated';
    const again: Delta[] = [];
    const s2 = new ScriptedStream(cp.xdsPort, 'DeltaAggregatedResources', (b) => again.push(decodeDelta(b)));
    s2.send(deltaRequest({ node, type_url: TypeUrl.Cluster, initial_resource_versions: versions }));
    await waitFor('delta after reconnect', () => again.length === 1);
    assert.deepEqual(again[0]!.resources!.map((r) => r.name), ['m1']);
    s2.close();
  });

  it('the delta client subscribes like Envoy: clusters, then the endpoints they name, each response ACKed', async () => {
    const got: DecodedDeltaResponse[] = [];
    const c: DeltaClient = new DeltaClient(`127.0.0.1:${cp.xdsPort}`, { id: 'delta-client', cluster: 'test' }, (r) => {
      got.push(r);
      if (r.typeUrl === TypeUrl.Cluster) c.subscribe(TypeUrl.ClusterLoadAssignment, resourceReferences({ clusters: r.resources.map((x) => decodeTyped(x.typeUrl, x.value)) }).endpoints);
    });
    c.start();
    c.subscribe(TypeUrl.Cluster, []);
    await waitFor('endpoints', () => got.some((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment));
    assert.deepEqual(got[0]!.resources.map((r) => r.name), ['a', 'm1', 'm2']);
    const eds = got.find((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment)!;
    assert.deepEqual(eds.resources.map((r) => decodeTyped(r.typeUrl, r.value).cluster_name).sort(), ['a', 'm1', 'm2']);
    const rec = () => cp.controlPlane.ads.proxies.list().find((p) => p.node?.id === 'delta-client');
    await waitFor('CDS and EDS acknowledged', () => [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment].every((t) => rec()?.sync(t).state === 'SYNCED'));
    c.close();
  });
});

describe('snapshot consistency', () => {
  it('reports an EDS cluster without endpoints and a route to a missing cluster', () => {
    const r = parseConfig(CONFIG(50), 'x.yaml');
    assert.ok(r.ok);
    const res = translate(buildModel(r.config));
    const snapshot = buildSnapshot(1, { ...res, clusters: res.clusters.filter((c) => c.name !== 'm1'), endpoints: res.endpoints.filter((e) => e.cluster_name !== 'a'), runtime: [] }, new ResourceEncoder());
    assert.deepEqual(checkConsistency(snapshot), ['EDS cluster "a" has no ClusterLoadAssignment', 'route configuration "front" names missing cluster "m1"']);
  });
});
