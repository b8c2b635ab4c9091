// The Client Status Discovery Service on the xDS port, asked by a client built only from Envoy's
// published csds.proto (protobufjs over the .proto files @grpc/grpc-js-xds ships, and a generic
// grpc-js client) — nothing of shadowplane's own codec — as existing xDS tooling would ask.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { waitFor } from '../src/sandbox/wait.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { freePort } from './helpers/ports.js';
import { SHADOWPLANE_VERSION } from '../src/server/version.js';

const require = createRequire(import.meta.url);

/** csds.proto and what it imports, straight from the published Envoy API tree. */
function csdsRoot(): protobuf.Root {
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const dirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      try {
        require('node:fs').accessSync(candidate);
        return candidate;
      } catch {
        // next
      }
    }
    return target;
  };
  protobuf.common('descriptor', require('protobufjs/google/protobuf/descriptor.json').nested.google.nested.protobuf.nested);
  root.loadSync(['envoy/service/status/v3/csds.proto', 'envoy/config/cluster/v3/cluster.proto', 'envoy/service/discovery/v3/discovery.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CONFIG = (front: number): string => `listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: a }] }]
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
`;

describe('Client Status Discovery Service', () => {
  let cp: TestControlPlane;
  let root: protobuf.Root;
  let client: grpc.Client;
  const proxies: AdsClient[] = [];

  before(async () => {
    root = csdsRoot();
    cp = await startControlPlane(CONFIG(await freePort()), { dataPlane: 'builtin' });
    client = new grpc.Client(`127.0.0.1:${cp.xdsPort}`, grpc.credentials.createInsecure());
    for (const [id, nack] of [['edge-acks', false], ['edge-nacks', true]] as const) {
      const c = new AdsClient({ target: `127.0.0.1:${cp.xdsPort}`, node: { id, cluster: 'edge' }, onResponse: () => (nack ? 'no thanks' : undefined) });
      c.start();
      c.subscribe(TypeUrl.Cluster, []);
      proxies.push(c);
    }
    await waitFor('both answered', () => cp.controlPlane.ads.proxies.list().filter((p) => p.type(TypeUrl.Cluster).ackedAt !== undefined || p.type(TypeUrl.Cluster).lastNack).length >= 2);
  });
  after(async () => {
    for (const c of proxies) c.close();
    client.close();
    await cp.stop();
  });

  const requestType = (): protobuf.Type => root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const responseType = (): protobuf.Type => root.lookupType('envoy.service.status.v3.ClientStatusResponse');
  const encode = (req: Json): Buffer => Buffer.from(requestType().encode(requestType().fromObject(req)).finish());
  const decode = (b: Buffer): Json => responseType().toObject(responseType().decode(b), { enums: String, longs: Number, defaults: false }) as Json;

  const fetchStatus = (req: Json): Promise<Json> =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest('/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus', encode, (b: Buffer) => b, req, (err, res) =>
        err ? reject(err) : resolve(decode(res!)),
      ),
    );

  const byNode = (res: Json, id: string): Json | undefined => (res.config as Json[]).find((c) => c.node.id === id);

  it('reports every client with each resource it holds: version, content, SYNCED and ACKED', async () => {
    const res = await fetchStatus({});
    assert.deepEqual((res.config as Json[]).map((c) => c.node.id).sort(), ['builtin', 'edge-acks', 'edge-nacks']);
    const acks = byNode(res, 'edge-acks')!;
    assert.equal(acks.node.cluster, 'edge');
    const cluster = (acks.generic_xds_configs as Json[]).find((g) => g.type_url === TypeUrl.Cluster && g.name === 'a')!;
    assert.equal(cluster.config_status, 'SYNCED');
    assert.equal(cluster.client_status, 'ACKED');
    assert.match(cluster.version_info, /^[0-9a-f]{16}$/);
    assert.ok(cluster.last_updated.seconds > 0);
    assert.equal(cluster.xds_config.type_url, TypeUrl.Cluster);
    const decoded = root.lookupType('envoy.config.cluster.v3.Cluster').decode(cluster.xds_config.value) as unknown as Json;
    assert.equal(decoded.name, 'a');
    // The built-in data plane holds all five types.
    const builtin = byNode(res, 'builtin')!;
    assert.deepEqual([...new Set((builtin.generic_xds_configs as Json[]).map((g) => g.type_url))].sort(), [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime].sort());
    assert.ok((builtin.generic_xds_configs as Json[]).every((g) => g.config_status === 'SYNCED'));
  });

  it('a NACK is ERROR / NACKED with the proxy’s message', async () => {
    const res = await fetchStatus({ exclude_resource_contents: true });
    const nacks = byNode(res, 'edge-nacks')!;
    const cluster = (nacks.generic_xds_configs as Json[]).find((g) => g.name === 'a')!;
    assert.equal(cluster.config_status, 'ERROR');
    assert.equal(cluster.client_status, 'NACKED');
    assert.equal(cluster.error_state.details, 'no thanks');
    assert.equal(cluster.xds_config, undefined, 'exclude_resource_contents leaves the content out');
  });

  it('node_matchers select clients by node id', async () => {
    const prefix = await fetchStatus({ node_matchers: [{ node_id: { prefix: 'edge-' } }] });
    assert.deepEqual((prefix.config as Json[]).map((c) => c.node.id).sort(), ['edge-acks', 'edge-nacks']);
    const exact = await fetchStatus({ node_matchers: [{ node_id: { exact: 'builtin' } }] });
    assert.deepEqual((exact.config as Json[]).map((c) => c.node.id), ['builtin']);
    const regex = await fetchStatus({ node_matchers: [{ node_id: { safe_regex: { regex: '.*nacks' } } }] });
    assert.deepEqual((regex.config as Json[]).map((c) => c.node.id), ['edge-nacks']);
  });

  it("each client's node as it named itself: its user agent and that agent's version (an Envoy's; the built-in data plane's shadowplane version)", async () => {
    // A client that says what Envoy 1.40.0 says of itself, over ADS as Envoy sends it.
    const req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const ads = client.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', (m: Json) => Buffer.from(req.encode(req.fromObject(m)).finish()), (b: Buffer) => b);
    ads.on('data', () => undefined);
    ads.on('error', () => undefined);
    ads.write({
      node: { id: 'envoy-like', cluster: 'edge', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 40, patch: 0 } } },
      type_url: TypeUrl.Cluster,
    });
    try {
      await waitFor('connected', () => cp.controlPlane.ads.proxies.list().some((p) => p.node?.id === 'envoy-like'));
      const res = await fetchStatus({ exclude_resource_contents: true });
      assert.deepEqual(byNode(res, 'envoy-like')!.node, { id: 'envoy-like', cluster: 'edge', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 40, patch: 0 } } });
      const [major, minor, patch] = SHADOWPLANE_VERSION.split('.').map(Number);
      const version = { major_number: major, minor_number: minor, patch };
      assert.deepEqual(byNode(res, 'builtin')!.node, { id: 'builtin', cluster: 'shadowplane', user_agent_name: 'shadowplane', user_agent_build_version: { version } });
      // A client that names no version gets none.
      assert.equal(byNode(res, 'edge-acks')!.node.user_agent_build_version, undefined);
    } finally {
      ads.end();
    }
  });

  it('StreamClientStatus answers each request on the stream', async () => {
    const call = client.makeBidiStreamRequest('/envoy.service.status.v3.ClientStatusDiscoveryService/StreamClientStatus', encode, (b: Buffer) => b);
    const got: Json[] = [];
    call.on('data', (b: Buffer) => got.push(decode(b)));
    call.write({ node_matchers: [{ node_id: { exact: 'edge-acks' } }] });
    await waitFor('first answer', () => got.length === 1);
    call.write({ node_matchers: [{ node_id: { suffix: 'nacks' } }] });
    await waitFor('second answer', () => got.length === 2);
    call.end();
    assert.deepEqual(got.map((r) => (r.config as Json[]).map((c) => c.node.id)), [['edge-acks'], ['edge-nacks']]);
  });
  it('over state of the world a NACK refuses only what changed: a resource the proxy holds at its current version stays SYNCED / ACKED', async () => {
    let answered = 0;
    const c = new AdsClient({ target: `127.0.0.1:${cp.xdsPort}`, node: { id: 'edge-partial', cluster: 'edge' }, onResponse: () => (answered++ === 0 ? undefined : 'not this one') });
    proxies.push(c);
    c.start();
    c.subscribe(TypeUrl.Cluster, []);
    await waitFor('the first CDS response ACKed', () => answered >= 1);
    const version = cp.controlPlane.cache.configVersion;
    const text = CONFIG(await freePort()).replace('cluster: a }]', 'cluster: a, mirrors: [{ cluster: b }] }]').concat('  - { name: b, endpoints: ["127.0.0.1:2"] }\n');
    await cp.edit(text);
    await waitFor('the edit published', () => cp.controlPlane.cache.configVersion > version);
    await waitFor('the second CDS response NACKed', () => answered >= 2);
    const res = await fetchStatus({ node_matchers: [{ node_id: { exact: 'edge-partial' } }] });
    const configs = byNode(res, 'edge-partial')!.generic_xds_configs as Json[];
    const status = Object.fromEntries(configs.filter((g) => g.type_url === TypeUrl.Cluster).map((g) => [g.name, `${g.config_status}/${g.client_status}`]));
    assert.deepEqual(status, { a: 'SYNCED/ACKED', b: 'ERROR/NACKED' });
  });
});
