// State of the world sends only what changed for ClusterLoadAssignment and RouteConfiguration (the
// protocol needs the whole set only for Listener and Cluster responses). Real Envoy must keep what a
// response leaves out: after edits that move one cluster's endpoint, its /config_dump still holds
// every assignment and route, and traffic still reaches every backend, while a state-of-the-world
// client sees exactly the changed assignment go out and no route configuration; a route edit on one
// of two listeners sends that route configuration alone, and Envoy keeps the other.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { decodeTyped } from '../src/envoy-api/proto-json.js';
import { RTDS_LAYER_NAME } from '../src/envoy-api/metadata.js';
import { resourceReferences } from '../src/envoy-api/resource-references.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { waitFor } from '../src/sandbox/wait.js';
import { adsBootstrap } from '../src/translate/bootstrap.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import type { DecodedResponse } from '../src/envoy-api/discovery-codec.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { requireEnvoy } from './helpers/envoy.js';
import { httpGet } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';

const CLUSTERS = ['a', 'b', 'c', 'd'] as const;

describe('state of the world: only what changed for EDS and RDS, and Envoy keeps the rest', () => {
  const backends: RecordingBackend[] = [];
  let moved: RecordingBackend;
  let cp: TestControlPlane;
  let envoy: RunningEnvoy | undefined;
  let client: AdsClient | undefined;
  let dir = '';
  let front = 0;
  let back = 0;
  const responses: DecodedResponse[] = [];

  /**
   * Cluster `a` on backend 0, or on the spare backend once `aMoved`; every other cluster on its own
   * backend. Two listeners, so two route configurations: `front` (its /d route to `dTo`) and `back`.
   */
  const config = (aMoved: boolean, percent: number, dTo = 'd'): string => `
listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
${CLUSTERS.map((c) => `          - { name: ${c}, match: { prefix: /${c} }, cluster: ${c === 'd' ? dTo : c}${c === 'b' ? `, mirrors: [{ cluster: c, percent: ${percent} }]` : ''} }`).join('\n')}
  - name: back
    address: 127.0.0.1:${back}
    virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
          - { name: back, match: { prefix: /back }, cluster: d }
clusters:
${CLUSTERS.map((c, i) => `  - { name: ${c}, endpoints: ["127.0.0.1:${(c === 'a' && aMoved ? moved : backends[i]!).port}"], connect_timeout: 1s }`).join('\n')}
`;

  before(async () => {
    for (const c of CLUSTERS) backends.push(await startRecordingBackend(c));
    moved = await startRecordingBackend('a-moved');
    front = await freePort();
    back = await freePort();
    cp = await startControlPlane(config(false, 100));
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-sotw-partial-'));
  });

  after(async () => {
    client?.close();
    await envoy?.stop();
    await cp?.stop();
    for (const b of [...backends, moved]) await b?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an endpoint move sends one assignment; Envoy keeps the other assignments and every route', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    const adminPort = await freePort();
    const bootstrap = path.join(dir, 'envoy.yaml');
    await writeFile(bootstrap, formatDocument(adsBootstrap({ xds: `127.0.0.1:${cp.xdsPort}`, nodeId: 'front', nodeCluster: 'edge', adminPort }), 'yaml'));
    envoy = await startEnvoy(bin, { bootstrapFile: bootstrap, adminPort, baseId: 61 });

    // A state-of-the-world client beside Envoy, asking as Envoy does, to see what goes on the wire.
    const c: AdsClient = new AdsClient({
      target: `127.0.0.1:${cp.xdsPort}`,
      node: { id: 'watcher', cluster: 'edge' },
      onResponse: (r) => {
        responses.push(r);
        const decoded = r.resources.map((x) => decodeTyped(x.typeUrl, x.value));
        if (r.typeUrl === TypeUrl.Cluster) queueMicrotask(() => c.subscribe(TypeUrl.ClusterLoadAssignment, resourceReferences({ clusters: decoded }).endpoints));
        if (r.typeUrl === TypeUrl.Listener) queueMicrotask(() => c.subscribe(TypeUrl.RouteConfiguration, resourceReferences({ listeners: decoded }).routes));
        return undefined;
      },
    });
    client = c;
    c.start();
    c.subscribe(TypeUrl.Runtime, [RTDS_LAYER_NAME]);
    c.subscribe(TypeUrl.Cluster, []);
    c.subscribe(TypeUrl.Listener, []);

    const allSynced = (): boolean => cp.controlPlane.ads.proxies.list().length === 2 && cp.controlPlane.ads.proxies.list().every((p) => p.synced());
    await waitFor('Envoy and the watcher SYNCED', allSynced, 20_000);
    for (const name of CLUSTERS) assert.equal((await httpGet(front, `/${name}`)).status, 200, `/${name} before`);
    const eds = (): DecodedResponse[] => responses.filter((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment);
    const rds = (): DecodedResponse[] => responses.filter((r) => r.typeUrl === TypeUrl.RouteConfiguration);
    assert.equal(eds().at(-1)!.resources.length, CLUSTERS.length, 'the first response holds every assignment');

    // Move a back and forth: each edit is one changed assignment.
    for (const [k, aMoved] of [true, false, true].entries()) {
      const edsBefore = eds().length;
      const rdsBefore = rds().length;
      const version = cp.controlPlane.cache.configVersion;
      await cp.edit(config(aMoved, 100));
      await waitFor(`edit ${k} published`, () => cp.controlPlane.cache.configVersion > version);
      await waitFor(`edit ${k} SYNCED`, allSynced, 20_000);
      const sent = eds().slice(edsBefore);
      assert.equal(sent.length, 1, `edit ${k}: one EDS response`);
      assert.deepEqual(sent[0]!.resources.map((r) => String(decodeTyped(r.typeUrl, r.value).cluster_name)), ['a'], `edit ${k}: only the moved assignment`);
      assert.equal(rds().length, rdsBefore, `edit ${k}: no route configuration re-sent`);
    }

    // Envoy holds every assignment, the moved one at its new address, and routes to each backend.
    const dump = (await (await fetch(`http://127.0.0.1:${adminPort}/config_dump?include_eds`)).json()) as { configs: Array<{ '@type': string; dynamic_endpoint_configs?: Array<{ endpoint_config: { cluster_name: string; endpoints?: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }> } }>; dynamic_route_configs?: unknown[] }> };
    const endpoints = dump.configs.find((x) => x['@type'].endsWith('.EndpointsConfigDump'))!.dynamic_endpoint_configs!;
    const ports = Object.fromEntries(endpoints.map((e) => [e.endpoint_config.cluster_name, e.endpoint_config.endpoints?.[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value]));
    assert.deepEqual(ports, { a: moved.port, b: backends[1]!.port, c: backends[2]!.port, d: backends[3]!.port });
    assert.equal(dump.configs.find((x) => x['@type'].endsWith('.RoutesConfigDump'))!.dynamic_route_configs!.length, 2);
    const before = moved.received.length;
    for (const [i, name] of CLUSTERS.entries()) {
      const target = name === 'a' ? moved : backends[i]!;
      const n = target.received.length;
      assert.equal((await httpGet(front, `/${name}`)).status, 200, `/${name} after`);
      await target.waitFor(n + 1);
    }
    assert.ok(moved.received.length > before);
    // The 100% mirror of /b still reaches c: the route configuration Envoy kept is whole.
    await waitFor('a mirrored copy at c', () => backends[2]!.received.some((r) => r.host.includes('-shadow')), 5000);
  });

  it('a route edit on one listener sends that route configuration alone; Envoy keeps the other one', async (t) => {
    if (!requireEnvoy(t) || !envoy) return;
    const rds = (): DecodedResponse[] => responses.filter((r) => r.typeUrl === TypeUrl.RouteConfiguration);
    const rdsBefore = rds().length;
    const version = cp.controlPlane.cache.configVersion;
    await cp.edit(config(true, 100, 'c'));
    await waitFor('the route edit published', () => cp.controlPlane.cache.configVersion > version);
    await waitFor('the route edit SYNCED', () => cp.controlPlane.ads.proxies.list().every((p) => p.synced()), 20_000);
    const sent = rds().slice(rdsBefore);
    assert.equal(sent.length, 1, 'one RDS response');
    assert.deepEqual(sent[0]!.resources.map((r) => String(decodeTyped(r.typeUrl, r.value).name)), ['front'], 'only the changed route configuration');

    // Envoy holds both route configurations: /d on front now reaches c, /back on back still reaches d.
    const dump = (await (await fetch(`http://127.0.0.1:${envoy.adminPort}/config_dump?resource=dynamic_route_configs`)).json()) as { configs: Array<{ route_config: { name: string } }> };
    assert.deepEqual(dump.configs.map((c) => c.route_config.name).sort(), ['back', 'front']);
    const [c, d] = [backends[2]!, backends[3]!];
    await waitFor('front /d reaches c', async () => {
      const n = c.received.length;
      return (await httpGet(front, '/d')).status === 200 && c.received.length > n;
    }, 10_000);
    const n = d.received.length;
    assert.equal((await httpGet(back, '/back')).status, 200);
    await d.waitFor(n + 1);
  });
});
