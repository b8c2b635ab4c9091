// Mirror response comparison ("new version verification", seed 003) on the built-in data plane:
// real loopback backends answer the primary and the copy, and each sampled copy of a policy with a
// `compare` spec is counted once as match, mismatch or incomplete, mismatches kept with what differs.
// The primary's response is never held for the comparison. Also GET /mirror_diffs on serve's admin.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject, TypedJson } from '../src/envoy-api/proto-json.js';
import type { ComparisonSummary, Difference, MirrorDifferences } from '../src/proxy/index.js';
import { parseResources } from '../src/proxy/resources/parse-resources.js';
import { sleep } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { freePort } from './helpers/ports.js';
import { closeAll, compileYaml, send, startBackend, startFrontPlane, type Backend, type FrontPlane, type Received, type Reply } from './helpers/proxy-harness.js';

const json = (body: unknown, headers: Record<string, string> = {}): Reply => ({
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const SAME: Reply = { body: 'same\n' };

/** What the primary and the copy's mirror answer, by request path; any other path gets SAME from both. */
const REPLIES: Record<string, { primary: Reply; mirror: Reply }> = {
  '/ignored': {
    primary: json({ id: 1, name: 'a', headers: { 'X-Amzn-Trace-Id': 'Root=1-p' }, items: [{ v: 1, etag: 'x' }] }),
    mirror: json({ id: 2, name: 'a', headers: { 'X-Amzn-Trace-Id': 'Root=1-m' }, items: [{ v: 1, etag: 'y' }] }),
  },
  '/differs': {
    primary: json({ id: 1, name: 'a', items: [{ v: 1, etag: 'x' }] }),
    mirror: json({ id: 2, name: 'b', items: [{ v: 2, etag: 'y' }], extra: true }),
  },
  '/status': {
    primary: json({ ok: true }, { 'x-version': '1' }),
    mirror: { status: 503, headers: { 'content-type': 'text/plain', 'x-version': '2' }, body: '{"ok":true}' },
  },
  '/plain': { primary: { body: 'v1\n' }, mirror: { body: 'v2\n' } },
  '/big-same': { primary: { body: 'a'.repeat(100) }, mirror: { body: 'a'.repeat(100) } },
  '/big-differs': { primary: { body: 'a'.repeat(100) }, mirror: { body: `${'a'.repeat(99)}b` } },
};

const ROUTE = { route_config: 'front', virtual_host: 'all' };

/** httpbin's /headers: every request header echoed, names title-cased, repeats joined with ",". */
function echoHeaders(r: Received, extra: Record<string, unknown> = {}): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of r.rawHeaders) {
    const title = name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    headers[title] = headers[title] === undefined ? value : `${headers[title]},${value}`;
  }
  return json({ headers, ...extra });
}

describe('mirror response comparison', () => {
  let primary: Backend;
  let mirror: Backend;
  let slowMirror: Backend;
  let silentMirror: Backend;
  let plane: FrontPlane;

  before(async () => {
    primary = await startBackend('primary');
    mirror = await startBackend('mirror');
    slowMirror = await startBackend('slow-mirror', { kind: 'delay', ms: 1000 });
    silentMirror = await startBackend('silent-mirror', { kind: 'hang' });
    primary.reply = (r) => (r.path.startsWith('/echo') ? echoHeaders(r) : (REPLIES[r.path]?.primary ?? SAME));
    for (const m of [mirror, slowMirror, silentMirror]) {
      m.reply = (r) => (r.path.startsWith('/echo') ? echoHeaders(r, r.path === '/echo-differs' ? { version: 2 } : {}) : (REPLIES[r.path]?.mirror ?? SAME));
    }
    const compared = (name: string, path: string, cluster: string, compare: string): string =>
      `{ name: ${name}, match: { path: ${path} }, cluster: primary, mirrors: [{ cluster: ${cluster}, compare: ${compare} }] }`;
    plane = await startFrontPlane({
      host: 'compare.example',
      routes: [
        compared('ignored', '/ignored', 'mirror', '{ ignore_json_paths: ["$.id", "$.headers.X-Amzn-Trace-Id", "$.items[*].etag"] }'),
        compared('differs', '/differs', 'mirror', '{ ignore_json_paths: ["$.id", "$.items[*].etag"] }'),
        compared('status', '/status', 'mirror', '{ headers: [content-type, x-version] }'),
        compared('plain', '/plain', 'mirror', '{}'),
        compared('big-same', '/big-same', 'mirror', '{ max_body_bytes: 16 }'),
        compared('big-differs', '/big-differs', 'mirror', '{ max_body_bytes: 16 }'),
        compared('silent', '/silent', 'silent-mirror', '{}'),
        compared('slow', '/slow', 'slow-mirror', '{}'),
        // configs/mesh-cross-cluster.yaml's spec (seed 003): it leaves out what httpbin echoes that differs per request.
        compared('echo-seed-003', '/echo-seed-003', 'mirror', '{ ignore_json_paths: ["$.headers.Host", "$.headers.X-Amzn-Trace-Id", "$.headers.X-Forwarded-Client-Cert"] }'),
        compared('echo', '/echo', 'mirror', '{}'),
        compared('echo-differs', '/echo-differs', 'mirror', '{}'),
        '{ name: uncompared, match: { path: /uncompared }, cluster: primary, mirrors: [{ cluster: mirror }] }',
      ],
      clusters: [
        `{ name: primary, endpoints: ["127.0.0.1:${primary.port}"] }`,
        `{ name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }`,
        `{ name: slow-mirror, endpoints: ["127.0.0.1:${slowMirror.port}"] }`,
        `{ name: silent-mirror, endpoints: ["127.0.0.1:${silentMirror.port}"], max_stream_duration: 0.3s }`,
      ],
    });
  });

  after(() => closeAll(plane.plane, primary, mirror, slowMirror, silentMirror));

  const compareTotal = (route: string, result?: string): Promise<number> =>
    plane.metric('shadowplane_mirror_compare_total', { ...ROUTE, route, ...(result ? { result } : {}) });

  /** Waits (at most 3 s) until `count` copies of `route` have been compared, whatever the result. */
  async function compared(route: string, count: number): Promise<void> {
    const deadline = Date.now() + 3000;
    while ((await compareTotal(route)) < count && Date.now() < deadline) await sleep(10);
    assert.equal(await compareTotal(route), count, `comparisons of route ${route}`);
  }

  function lastMismatch(route: string): MirrorDifferences {
    const found = plane.plane.comparisons().recent.find((d) => d.route.route === route);
    assert.ok(found, `a mismatch of route ${route} is kept`);
    return found;
  }

  /** Requests /<route>, whose one comparison must mismatch, and returns what differed. */
  async function differencesOf(route: string): Promise<readonly Difference[]> {
    await plane.get(`/${route}`);
    await compared(route, 1);
    assert.equal(await compareTotal(route, 'mismatch'), 1);
    return lastMismatch(route).differences;
  }

  it('JSON bodies that differ only in ignored paths match', async () => {
    const res = await plane.get('/ignored');
    assert.equal(JSON.parse(res.body).id, 1, 'the client gets the primary');
    await compared('ignored', 1);
    assert.equal(await compareTotal('ignored', 'match'), 1);
    assert.equal(
      await plane.metric('shadowplane_mirror_compare_total', { ...ROUTE, route: 'ignored', mirror: 'mirror', cluster: 'mirror', result: 'match' }),
      1,
    );
  });

  it('JSON bodies that differ elsewhere mismatch, each difference named by its JSON path', async () => {
    assert.deepEqual(await differencesOf('differs'), [
      { field: 'json:$.name', primary: '"a"', mirror: '"b"' },
      { field: 'json:$.items[0].v', primary: '1', mirror: '2' },
      { field: 'json:$.extra', primary: '(absent)', mirror: 'true' },
    ]);
    const d = lastMismatch('differs');
    assert.deepEqual([d.route, d.mirror, d.cluster], [{ ...ROUTE, route: 'differs' }, 'mirror', 'mirror']);
    assert.ok(!Number.isNaN(Date.parse(d.at)));
  });

  it('a differing status and headers are differences; equal non-JSON bytes are not', async () => {
    assert.deepEqual(await differencesOf('status'), [
      { field: 'status', primary: '200', mirror: '503' },
      { field: 'header:content-type', primary: 'application/json', mirror: 'text/plain' },
      { field: 'header:x-version', primary: '1', mirror: '2' },
    ]);
  });

  it('an echo of the headers mirroring changes by design (-shadow Host, x-envoy-internal, x-forwarded-for) is no difference', async () => {
    for (const route of ['echo-seed-003', 'echo']) {
      const res = await plane.get(`/${route}`, { 'x-forwarded-for': '203.0.113.7' });
      assert.equal(JSON.parse(res.body).headers.Host, 'compare.example', 'the client gets the primary');
      await compared(route, 1);
      assert.equal(await compareTotal(route, 'match'), 1, `${route}: ${JSON.stringify(plane.plane.comparisons().recent[0]?.differences)}`);
    }
    const copy = mirror.received.find((r) => r.path === '/echo')!;
    assert.equal(copy.headers['x-envoy-internal'], 'true', 'the copy did carry what Envoy adds');
    assert.match(String(copy.headers['x-forwarded-for']), /^203\.0\.113\.7,/);
    assert.deepEqual(await differencesOf('echo-differs'), [{ field: 'json:$.version', primary: '(absent)', mirror: '2' }]);
  });

  it('non-JSON bodies are compared byte for byte', async () => {
    assert.deepEqual(await differencesOf('plain'), [{ field: 'body', primary: 'v1\n', mirror: 'v2\n' }]);
  });

  it('bodies over max_body_bytes are compared by the SHA-256 of the whole body', async () => {
    await plane.get('/big-same');
    await compared('big-same', 1);
    assert.equal(await compareTotal('big-same', 'match'), 1);
    const [diff, ...rest] = await differencesOf('big-differs');
    assert.deepEqual(rest, []);
    assert.equal(diff!.field, 'body');
    assert.match(diff!.primary, /^sha256:[0-9a-f]{64} \(100 bytes\)$/);
    assert.match(diff!.mirror, /^sha256:[0-9a-f]{64} \(100 bytes\)$/);
    assert.notEqual(diff!.primary, diff!.mirror);
  });

  it("a mirror that never answers is incomplete once its cluster's max_stream_duration cuts it off", async () => {
    const started = Date.now();
    assert.equal((await plane.get('/silent')).status, 200);
    await silentMirror.waitFor(1, 3000, (r) => r.path === '/silent');
    assert.equal(await compareTotal('silent'), 0, 'not settled while the copy may still answer');
    await compared('silent', 1);
    assert.equal(await compareTotal('silent', 'incomplete'), 1);
    assert.ok(Date.now() - started >= 290, 'counted only after max_stream_duration (0.3 s)');
  });

  it('the client has its whole response while a mirror that answers after 1 s has not answered yet', async () => {
    const started = Date.now();
    const res = await plane.get('/slow');
    const elapsed = Date.now() - started;
    assert.deepEqual([res.status, res.body], [200, 'same\n']);
    assert.ok(elapsed < 500, `the primary took ${elapsed} ms`);
    await slowMirror.waitFor(1, 3000, (r) => r.path === '/slow');
    assert.equal(await compareTotal('slow'), 0, 'the mirror has not answered yet');
    await compared('slow', 1);
    assert.equal(await compareTotal('slow', 'match'), 1);
    assert.ok(Date.now() - started >= 990);
  });

  it('a policy without compare is not compared; comparisons() sums every result, newest mismatch first', async () => {
    await plane.get('/uncompared');
    await mirror.waitFor(1, 3000, (r) => r.path === '/uncompared');
    const summary: ComparisonSummary = plane.plane.comparisons();
    assert.deepEqual([summary.match, summary.mismatch, summary.incomplete], [5, 5, 1]);
    assert.deepEqual(
      summary.recent.map((d) => d.route.route),
      ['big-differs', 'plain', 'echo-differs', 'status', 'differs'],
    );
    assert.equal(await compareTotal('uncompared'), 0);
    assert.equal(await plane.metric('shadowplane_mirror_compare_buffered_bytes'), 0, 'every kept body was given back');
  });
});

describe('compare specs in route metadata, as the data plane reads them', () => {
  const resources = compileYaml(`
listeners:
  - name: front
    address: 127.0.0.1:1
    virtual_hosts:
      - { name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: m, compare: {} }] }] }
clusters:
  - { name: a, endpoints: ["127.0.0.1:2"] }
  - { name: m, endpoints: ["127.0.0.1:3"] }
`);

  const at = 'routes[0].virtual_hosts[0].routes[0].metadata.filter_metadata.shadowplane.mirror_compare';

  /** The problems parseResources finds once the route's compare specs are `specs`. */
  function problemsWith(specs: JsonObject): string[] {
    const routes = structuredClone(resources.routes) as TypedJson[];
    const rc = routes[0] as TypedJson & { virtual_hosts: Array<{ routes: JsonObject[] }> };
    rc.virtual_hosts[0]!.routes[0]!.metadata = { filter_metadata: { 'other.filter': { anything: 1 }, 'shadowplane.mirror_compare': specs } };
    const parsed = parseResources({ ...resources, routes });
    return parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
  }

  it('accepts what the compiler writes, and other filters\' namespaces', () => {
    assert.deepEqual(problemsWith({ 'shadowplane.mirror.front.v.r.m': { headers: ['content-type'], ignore_json_paths: ['$.id'], max_body_bytes: 10 } }), []);
  });

  it('refuses a spec with a bad JSONPath, and one without max_body_bytes', () => {
    assert.deepEqual(
      problemsWith({
        'shadowplane.mirror.front.v.r.m': { headers: [], ignore_json_paths: ['$.ok', '$..deep'], max_body_bytes: 10 },
        'other.key': { headers: [], ignore_json_paths: [] },
      }),
      [
        `${at}.shadowplane.mirror.front.v.r.m.ignore_json_paths[1]: "$..deep" is not a supported JSONPath: unexpected "..deep" at offset 1 (expected .name, [N] or [*])`,
        `${at}.other.key.max_body_bytes: is required`,
      ],
    );
  });

  it('refuses a spec whose runtime key no policy in effect on the route has', () => {
    assert.deepEqual(problemsWith({ 'no.such.key': { headers: [], ignore_json_paths: [], max_body_bytes: 1 } }), [
      `${at}.no.such.key: no mirror policy in effect on this route has runtime_key "no.such.key"`,
    ]);
  });
});

describe('GET /mirror_diffs on serve --data-plane builtin', () => {
  let primary: Backend;
  let mirror: Backend;
  let cp: TestControlPlane;
  let front = 0;

  before(async () => {
    primary = await startBackend('primary');
    mirror = await startBackend('mirror');
    primary.reply = () => json({ version: 1 });
    mirror.reply = () => json({ version: 2 });
    front = await freePort();
    cp = await startControlPlane(
      `listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes: [{ name: r, match: { prefix: / }, cluster: primary, mirrors: [{ cluster: mirror, compare: {} }] }]
clusters:
  - { name: primary, endpoints: ["127.0.0.1:${primary.port}"] }
  - { name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }
`,
      { dataPlane: 'builtin' },
    );
  });

  after(async () => {
    await cp.stop();
    await closeAll(primary, mirror);
  });

  it('shows the data plane in the same process: counts and recent mismatches', async () => {
    assert.equal((await send(front, '/x', { headers: { host: 'a' } })).status, 200);
    const url = `http://127.0.0.1:${cp.adminPort}/mirror_diffs`;
    let summary: ComparisonSummary | undefined;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      summary = (await (await fetch(url)).json()) as ComparisonSummary;
      if (summary.mismatch > 0) break;
      await sleep(20);
    }
    assert.ok(summary);
    assert.equal(summary.mismatch, 1);
    assert.deepEqual(summary.recent[0]!.differences, [{ field: 'json:$.version', primary: '1', mirror: '2' }]);
    assert.match(await (await fetch(`http://127.0.0.1:${cp.adminPort}/metrics`)).text(), /^shadowplane_mirror_compare_total\{.*result="mismatch"\} 1$/m);
  });
});
