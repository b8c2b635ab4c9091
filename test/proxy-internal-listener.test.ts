// Internal listeners in the built-in data plane: a cluster whose endpoint is an envoy_internal_address
// sends through that listener's routes in-process (what a mirror's `path` compiles to). What reaches
// the backends through real Envoy and the data plane alike is in test/conformance.test.ts; here are the
// parts that only the data plane's own counters and refusals show.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject, TypedJson } from '../src/envoy-api/proto-json.js';
import type { ResourceSet } from '../src/envoy-api/resource-set.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { parseResources } from '../src/proxy/index.js';
import { mirrorPathName } from '../src/translate/mirror-policy.js';
import { freePort } from './helpers/ports.js';
import { closeAll, compileYaml, send, startBackend, startPlane, type Backend, type TestPlane } from './helpers/proxy-harness.js';

const PATH = { value: '/copies', mode: 'replace' } as const;

function config(port: number, ports: Record<string, number>): ResourceSet {
  return compileYaml(`
listeners:
  - name: front
    address: 127.0.0.1:${port}
    virtual_hosts:
      - name: all
        domains: ["*"]
        routes:
          - { name: path, match: { prefix: /p }, cluster: primary, mirrors: [{ cluster: mirror, path: { value: /copies } }] }
          - { name: slow, match: { prefix: /slow }, cluster: primary, mirrors: [{ cluster: slow, path: { value: /copies } }] }
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${ports.primary}"] }
  - { name: mirror, endpoints: ["127.0.0.1:${ports.mirror}"] }
  - { name: slow, endpoints: ["127.0.0.1:${ports.slow}"], max_stream_duration: 0.3s }
`);
}

type Json = JsonObject & { name: string };

/** `r` with the resources named `name` of each type passed through `edit` (which may drop them by returning undefined). */
function edited(r: ResourceSet, name: string, edit: (x: Json, type: 'listeners' | 'routes' | 'clusters') => Json | undefined): ResourceSet {
  const each = (type: 'listeners' | 'routes' | 'clusters') =>
    structuredClone(r[type]).flatMap((x) => (String(x.name) === name ? ((edit(x as unknown as Json, type) as unknown as TypedJson | undefined) ?? []) : [x]));
  return { ...r, listeners: each('listeners'), routes: each('routes'), clusters: each('clusters') };
}

describe('internal listeners in the built-in data plane', () => {
  let primary: Backend;
  let mirror: Backend;
  let slow: Backend;
  let plane: TestPlane;
  let port = 0;
  let base: ResourceSet;
  const internal = (cluster: string) => mirrorPathName(cluster, PATH);

  before(async () => {
    primary = await startBackend('primary');
    mirror = await startBackend('mirror');
    slow = await startBackend('slow', { kind: 'hang' });
    port = await freePort();
    base = config(port, { primary: primary.port, mirror: mirror.port, slow: slow.port });
    plane = await startPlane(base);
  });

  after(() => closeAll(plane.plane, primary, mirror, slow));

  const labels = (route: string, cluster: string) => ({ route, mirror: internal(cluster), cluster: internal(cluster) });

  it('binds no socket for an internal listener, and sends the copy through its route to the real mirror cluster', async () => {
    assert.deepEqual(plane.plane.listeners().map((l) => l.name), ['front']);
    const before = mirror.received.length;
    const res = await send(port, '/p/1?x=y', { headers: { host: 'a.example' } });
    assert.equal(res.body, 'primary\n');
    await mirror.waitFor(before + 1);
    assert.deepEqual([mirror.received.at(-1)!.path, mirror.received.at(-1)!.host], ['/copies?x=y', 'a.example-shadow']);
    assert.equal(await plane.metric('shadowplane_mirror_responses_total', { ...labels('path', 'mirror'), status_class: '2xx' }), 1);
  });

  it("the real cluster's max_stream_duration, carried by the internal cluster, cuts off a copy that never gets an answer", async () => {
    const res = await send(port, '/slow', { headers: { host: 'a.example' } });
    assert.equal(res.body, 'primary\n');
    await slow.waitFor(1);
    const deadline = Date.now() + 3000;
    while ((await plane.metric('shadowplane_mirror_timeouts_total', labels('slow', 'slow'))) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await plane.metric('shadowplane_mirror_timeouts_total', labels('slow', 'slow')), 1);
  });

  it('an internal route that matches nothing answers the copy 404, as Envoy would; a listener that is not there refuses it', async () => {
    const noRoute = edited(base, internal('mirror'), (x, type) => {
      if (type === 'routes') ((x.virtual_hosts as Json[])[0]!.domains as string[]).splice(0, 1, 'elsewhere.example');
      return x;
    });
    assert.deepEqual(await plane.plane.apply(noRoute), { ok: true });
    const before = mirror.received.length;
    await send(port, '/p/2', { headers: { host: 'a.example' } });
    const deadline = Date.now() + 3000;
    while ((await plane.metric('shadowplane_mirror_responses_total', { ...labels('path', 'mirror'), status_class: '4xx' })) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await plane.metric('shadowplane_mirror_responses_total', { ...labels('path', 'mirror'), status_class: '4xx' }), 1);

    // A cluster naming an internal listener that is not there is accepted (it may still be on its way over xDS); its copies fail to connect.
    const gone = edited(base, internal('mirror'), (x, type) => (type === 'listeners' ? undefined : x));
    assert.deepEqual(await plane.plane.apply(gone), { ok: true });
    const res = await send(port, '/p/3', { headers: { host: 'a.example' } });
    assert.equal(res.body, 'primary\n');
    while ((await plane.metric('shadowplane_mirror_errors_total', { ...labels('path', 'mirror'), kind: 'connect_failure' })) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await plane.metric('shadowplane_mirror_errors_total', { ...labels('path', 'mirror'), kind: 'connect_failure' }), 1);
    assert.equal(mirror.received.length, before);
    assert.deepEqual(await plane.plane.apply(base), { ok: true });
  });

  it('a primary route to an internal cluster is forwarded through the internal listener too', async () => {
    const viaInternal = edited(base, 'front', (x, type) => {
      if (type === 'routes') ((((x.virtual_hosts as Json[])[0]!.routes as Json[])[0]!.route as JsonObject).cluster = internal('mirror'));
      return x;
    });
    assert.deepEqual(await plane.plane.apply(viaInternal), { ok: true });
    const res = await send(port, '/p/4?q=1', { headers: { host: 'a.example' } });
    assert.deepEqual([res.status, res.body], [200, 'mirror\n']);
    assert.ok(mirror.received.some((r) => r.path === '/copies?q=1' && r.host === 'a.example'), 'the primary is rewritten by the internal route, without -shadow');
    assert.deepEqual(await plane.plane.apply(base), { ok: true });
  });

  it('refuses an internal listener with an address, and mirror policies on its routes', () => {
    const name = internal('mirror');
    const bad = edited(base, name, (x, type) => {
      if (type === 'listeners') x.address = { socket_address: { address: '127.0.0.1', port_value: 1 } };
      if (type === 'routes') {
        const route = ((x.virtual_hosts as Json[])[0]!.routes as Json[])[0]!.route as JsonObject;
        route.request_mirror_policies = [{ cluster: 'mirror' }];
      }
      return x;
    });
    const r = parseResources(bad);
    assert.equal(r.ok, false);
    const at = bad.listeners.findIndex((l) => l.name === name);
    assert.deepEqual(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`), [
      `listeners[${at}].address: an internal listener has no address`,
      `listener "${name}": mirror policies on the routes of an internal listener are not supported (route configuration "${name}")`,
    ]);
    assert.equal(bad.listeners[at]!['@type'], TypeUrl.Listener);
  });
});
