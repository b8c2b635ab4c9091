// Applying resource sets to the built-in data plane: an invalid set is refused with every problem and
// its path (the previous config keeps serving), listeners follow the set without dropping the sockets
// that stay, and a config change never drops a request in flight.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResourceSet } from '../src/envoy-api/resource-set.js';
import type { JsonObject, TypedJson } from '../src/envoy-api/proto-json.js';
import { DataPlaneErrorCode, type ApplyResult } from '../src/proxy/errors.js';
import { parseResources } from '../src/proxy/resources/parse-resources.js';
import { loadConfigFile } from '../src/config/load.js';
import { buildModel } from '../src/model/build.js';
import { translate } from '../src/translate/resources.js';
import { sleep } from '../src/sandbox/wait.js';
import { freePort } from './helpers/ports.js';
import { exampleConfigs, REPO_ROOT } from './helpers/repo.js';
import { closeAll, compileYaml, send, startBackend, startPlane, type Backend, type TestPlane } from './helpers/proxy-harness.js';

function config(listeners: ReadonlyArray<{ name: string; port: number; cluster: string; prefix?: string }>, ports: Record<string, number>): ResourceSet {
  return compileYaml(`
listeners:
${listeners
  .map(
    (l) => `  - name: ${l.name}
    address: 127.0.0.1:${l.port}
    virtual_hosts: [{ name: all, domains: ["*"], routes: [{ name: r, match: { prefix: ${l.prefix ?? '/'} }, cluster: ${l.cluster} }] }]`,
  )
  .join('\n')}
clusters:
${Object.entries(ports)
  .map(([n, p]) => `  - { name: ${n}, endpoints: ["127.0.0.1:${p}"] }`)
  .join('\n')}
`);
}

/** A deep copy of `r` whose first route configuration is edited by `edit`. */
function editRoutes(r: ResourceSet, edit: (rc: JsonObject & { virtual_hosts: JsonObject[] }) => void): ResourceSet {
  const routes = structuredClone(r.routes) as TypedJson[];
  edit(routes[0] as TypedJson & { virtual_hosts: JsonObject[] });
  return { ...r, routes };
}

function problemsOf(result: ApplyResult): string[] {
  assert.equal(result.ok, false);
  return result.ok ? [] : result.error.problems.map((p) => `${p.path}: ${p.message}`);
}

function refused(port: number): Promise<boolean> {
  return send(port, '/', { headers: { host: 'a' }, timeoutMs: 2000 }).then(
    () => false,
    (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
  );
}

describe('example configs', () => {
  for (const file of exampleConfigs()) {
    it(`${file} compiles to resources the data plane accepts`, async () => {
      const loaded = await loadConfigFile(path.join(REPO_ROOT, file));
      assert.ok(loaded.ok, JSON.stringify(loaded));
      const parsed = parseResources(translate(buildModel(loaded.config)));
      assert.deepEqual(parsed.ok ? [] : parsed.problems, []);
    });
  }
});

describe('data plane config', () => {
  let a: Backend;
  let b: Backend;
  let slow: Backend;
  let plane: TestPlane;
  let port = 0;
  let ports: Record<string, number> = {};
  let base: ResourceSet;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    slow = await startBackend('slow', { kind: 'delay', ms: 400 });
    port = await freePort();
    ports = { a: a.port, b: b.port, slow: slow.port };
    base = config([{ name: 'front', port, cluster: 'a' }], ports);
    plane = await startPlane(base);
  });

  after(() => closeAll(plane.plane, a, b, slow));

  it('refuses an invalid set with every problem and its path, and keeps serving the previous config', async () => {
    const bad = editRoutes(base, (rc) => {
      const vh = rc.virtual_hosts[0]!;
      vh.domains = ['*', 'x.example', 'x.example'];
      const route = (vh.routes as JsonObject[])[0]!;
      (route.match as JsonObject).safe_regex = { regex: '/x(?=1)' }; // JavaScript takes a lookahead; RE2 (Envoy) does not
      delete (route.match as JsonObject).prefix;
      (route.route as JsonObject).retry_policy = { retry_on: '5xx' };
      (route.route as JsonObject).request_mirror_policies = [
        { cluster: 'b', request_headers_mutations: [{ append: { header: { key: 'host', value: 'evil' } } }] },
        { cluster: 'b', cluster_header: 'x-mirror' },
      ];
    });
    const problems = problemsOf(await plane.plane.apply(bad));
    const at = 'routes[0].virtual_hosts[0]';
    assert.deepEqual(
      problems,
      [
        `${at}.domains[2]: only unique values for domains are permitted; "x.example" is duplicated in route configuration "front"`,
        `${at}.routes[0].match.safe_regex.regex: invalid regex: invalid or unsupported Perl syntax: \`(?=\``,
        `${at}.routes[0].route.request_mirror_policies[0].request_headers_mutations[0]: :-prefixed or host headers may not be modified`,
        `${at}.routes[0].route.request_mirror_policies[1]: needs exactly one of cluster, cluster_header, got cluster and cluster_header`,
        `${at}.routes[0].route.retry_policy: unsupported field (the built-in data plane does not implement it)`,
      ],
    );
    const still = await send(port, '/', { headers: { host: 'a' } });
    assert.equal(still.body, 'a\n');
    assert.equal(await plane.metric('shadowplane_dataplane_config_updates_total', { result: 'rejected' }), 1);
  });

  it('refuses a listener whose route configuration is missing, and a resource of the wrong type', async () => {
    const r = await plane.plane.apply({ ...base, routes: [], clusters: [...base.clusters, { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener' }] });
    assert.equal(r.ok, false);
    assert.equal(r.ok ? undefined : r.error.code, DataPlaneErrorCode.INVALID_RESOURCES);
    assert.deepEqual(problemsOf(r), [
      `clusters[${base.clusters.length}].@type: expected @type type.googleapis.com/envoy.config.cluster.v3.Cluster`,
      'listener "front": names unknown route configuration "front"',
    ]);
  });

  it('a new config applies to the next request on the same keep-alive connection; the socket stays', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (): Promise<{ body: string; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'a' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ body, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.deepEqual(await get(), { body: 'a\n', reused: false });
      assert.deepEqual(await plane.plane.apply(config([{ name: 'front', port, cluster: 'b' }], ports)), { ok: true });
      assert.deepEqual(await get(), { body: 'b\n', reused: true });
    } finally {
      agent.destroy();
      await plane.plane.apply(base);
    }
  });

  it('a request in flight finishes on the config it started with; the next one sees the new config', async () => {
    assert.deepEqual(await plane.plane.apply(config([{ name: 'front', port, cluster: 'slow' }], ports)), { ok: true });
    const inFlight = send(port, '/', { headers: { host: 'a' } });
    await slow.waitFor(slow.received.length + 1);
    assert.deepEqual(await plane.plane.apply(config([{ name: 'front', port, cluster: 'a', prefix: '/other' }], ports)), { ok: true });
    const next = await send(port, '/', { headers: { host: 'a' } });
    assert.equal(next.status, 404);
    const done = await inFlight;
    assert.equal(done.status, 200);
    assert.equal(done.body, 'slow\n');
    await plane.plane.apply(base);
  });

  it('listeners follow the set: added, removed; a bind failure changes nothing', async () => {
    const second = await freePort();
    assert.deepEqual(
      await plane.plane.apply(config([{ name: 'front', port, cluster: 'a' }, { name: 'second', port: second, cluster: 'b' }], ports)),
      { ok: true },
    );
    assert.equal((await send(second, '/', { headers: { host: 'a' } })).body, 'b\n');
    assert.deepEqual(
      plane.plane.listeners().map((l) => l.name).sort(),
      ['front', 'second'],
    );

    // A port someone else holds: the whole apply is refused, and the listener it would have opened too is not left open.
    const squatter = createServer();
    const taken = await freePort();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    const third = await freePort();
    try {
      const r = await plane.plane.apply(
        config([{ name: 'front', port, cluster: 'b' }, { name: 'third', port: third, cluster: 'a' }, { name: 'taken', port: taken, cluster: 'a' }], ports),
      );
      assert.equal(r.ok ? undefined : r.error.code, DataPlaneErrorCode.LISTENER_BIND);
      assert.match(problemsOf(r).join('\n'), new RegExp(`listener "taken": cannot bind 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`));
      assert.equal(await refused(third), true);
      assert.equal((await send(port, '/', { headers: { host: 'a' } })).body, 'a\n');
      assert.equal((await send(second, '/', { headers: { host: 'a' } })).body, 'b\n');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }

    assert.deepEqual(await plane.plane.apply(base), { ok: true });
    const deadline = Date.now() + 3000;
    while (!(await refused(second)) && Date.now() < deadline) await sleep(50);
    assert.equal(await refused(second), true);
    assert.deepEqual(plane.plane.listeners().map((l) => l.name), ['front']);
  });

  it('after close() the listeners are gone and apply is refused', async () => {
    const own = await freePort();
    const p = await startPlane(config([{ name: 'own', port: own, cluster: 'a' }], ports));
    assert.equal((await send(own, '/', { headers: { host: 'a' } })).status, 200);
    await p.plane.close();
    assert.equal(await refused(own), true);
    const r = await p.plane.apply(base);
    assert.equal(r.ok ? undefined : r.error.code, DataPlaneErrorCode.CLOSED);
  });
});
