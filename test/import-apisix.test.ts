// APISIX configurations served as they are, through real Envoy and the built-in data plane: seed
// 004's route exactly as printed (standalone apisix.yaml, then as a hot edit its ADC form), half the
// requests mirrored with the primary's Host, the mirror's 2000ms timeouts from plugin_attr cutting
// off a mirror that never answers; and a table of radixtree precedence, hosts, methods, node weights
// and pass_host.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { Backends } from './helpers/import-requests.js';
import { startImportTargets, type ImportTarget, type ImportTargets } from './helpers/import-targets.js';
import { closeServer, listenOnLoopback, runBounded, send } from './helpers/proxy-harness.js';
import { REPO_ROOT } from './helpers/repo.js';
import { assertBinomial } from './helpers/statistics.js';

const example = (name: string, file: string): string => readFileSync(path.join(REPO_ROOT, 'configs/imports/apisix', name, file), 'utf8');

const NAMES = ['httpbin', 'nginx', 'a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];

/** The seed's documents with its outside addresses (httpbin.org, the NGINX on 8081) moved to loopback backends. */
function local(text: string, b: Backends<Name>): string {
  return text
    .replace('"httpbin.org": 1', `"127.0.0.1:${b.port('httpbin')}": 1`)
    .replace('- host: httpbin.org\n          port: 80', `- host: 127.0.0.1\n          port: ${b.port('httpbin')}`)
    .replace('http://127.0.0.1:8081', `http://127.0.0.1:${b.port('nginx')}`);
}

function table(b: Backends<Name>, slowPort: number): string {
  const node = (n: Name) => `{ "127.0.0.1:${b.port(n)}": 1 }`;
  return `upstreams:
  - { id: ua, nodes: ${node('a')} }
  - { id: ub, nodes: ${node('b')} }
  - { id: uc, nodes: ${node('c')} }
  - id: split
    nodes: [{ host: 127.0.0.1, port: ${b.port('a')}, weight: 1 }, { host: 127.0.0.1, port: ${b.port('b')}, weight: 3 }]
  - { id: by-node, nodes: ${node('c')}, pass_host: node }
services:
  - id: rewriting
    hosts: [svc.example]
    upstream: { nodes: ${node('b')}, pass_host: rewrite, upstream_host: rewritten.example }
    plugins: { proxy-mirror: { host: "http://127.0.0.1:${b.port('nginx')}" } }
routes:
  - { id: p-short, uri: "/p/*", hosts: [t.example], upstream_id: ua }
  - { id: p-long, uri: "/p/long/*", hosts: [t.example], upstream_id: ub }
  - { id: p-exact, uri: /p/exact, hosts: [t.example], upstream_id: uc }
  - { id: same-low, uri: "/same*", hosts: [t.example], priority: 1, upstream_id: ua }
  - { id: same-high, uri: "/same*", hosts: [t.example], priority: 5, upstream_id: ub }
  - { id: m-post, uri: /m, hosts: [t.example], methods: [POST], upstream_id: uc }
  - { id: m-any, uri: /m, hosts: [t.example], priority: -1, upstream_id: ua }
  - { id: h-exact, uri: /h, hosts: [exact.example], upstream_id: ub }
  - { id: h-wild, uri: /h, hosts: ["*.wild.example"], upstream_id: uc }
  - { id: h-none, uri: /h, upstream_id: ua }
  - { id: h2-none, uri: /h2, upstream_id: ua }
  - { id: split, uri: /split, hosts: [t.example], upstream_id: split }
  - { id: node-host, uri: /node, hosts: [t.example], upstream_id: by-node }
  - { id: via-service, uri: "/svc/*", service_id: rewriting }
  - { id: off, uri: /off, hosts: [t.example], upstream_id: ua, status: 0 }
  - id: no-mirror
    uri: /quiet
    hosts: [t.example]
    upstream_id: ua
    plugins: { proxy-mirror: { host: "http://127.0.0.1:${b.port('nginx')}", _meta: { disable: true } } }
  - id: slow-mirror
    uri: /slow
    hosts: [t.example]
    upstream_id: ua
    plugins: { proxy-mirror: { host: "http://127.0.0.1:${slowPort}" } }
`;
}

describe('APISIX configurations through real Envoy and the built-in data plane', () => {
  let b: Backends<Name>;
  let targets: ImportTargets;
  let slow: Server;
  let slowPort = 0;
  /** For each copy the never-answering mirror got: when it arrived and when the proxy gave up on it. */
  const slowCopies: Array<{ arrived: number; closed: number | undefined }> = [];

  before(async () => {
    b = await Backends.start(NAMES);
    slow = createServer((req) => {
      const copy: { arrived: number; closed: number | undefined } = { arrived: Date.now(), closed: undefined };
      slowCopies.push(copy);
      req.resume();
      req.socket.once('close', () => (copy.closed = Date.now()));
    });
    slowPort = await listenOnLoopback(slow);
    targets = await startImportTargets({
      listeners: ['apisix'],
      baseId: 33,
      load: (p) => ({ listen: { host: '127.0.0.1', port: p.apisix } }),
      files: () => ({
        'config.yaml': example('seed-004-standalone', 'config.yaml'),
        'apisix.yaml': local(example('seed-004-standalone', 'apisix.yaml'), b),
        'table.yaml': table(b, slowPort),
      }),
    });
  });

  after(async () => {
    await targets?.close();
    await b?.close();
    if (slow) {
      slow.closeAllConnections();
      await closeServer(slow);
    }
  });

  const get = (x: ImportTarget, p: string, host: string, o: { method?: string; copies?: number } = {}) => b.hit(x.ports.apisix!, p, { host, ...o });

  /** 2000 GET /get: all answered by the primary, about half mirrored, the copy with the primary's Host and path. */
  const seedRun = async (x: ImportTarget) => {
    const before = b.count('nginx');
    const n = 2000;
    const res = await runBounded(n, 16, () => send(x.ports.apisix!, '/get', { headers: { host: 'gateway.example' } }));
    await new Promise((r) => setTimeout(r, 300));
    const copy = b.all.nginx.received.at(-1);
    return {
      n,
      ok: res.filter((r) => r.status === 200 && r.headers['x-backend'] === 'httpbin').length,
      mirrored: b.count('nginx') - before,
      copy: copy && { host: copy.host, path: copy.path },
      other: (await get(x, '/other', 'gateway.example')).status,
    };
  };
  const seedCheck = (o: Awaited<ReturnType<typeof seedRun>>): void => {
    assert.equal(o.ok, o.n);
    assertBinomial(o.mirrored, o.n, 0.5, 'sample_ratio: 0.5');
    // APISIX sends the copy the primary's upstream Host (proxy_set_header Host $upstream_host): no -shadow.
    assert.deepEqual(o.copy, { host: 'gateway.example', path: '/get' });
    assert.equal(o.other, 404);
  };

  it('seed 004 as printed (standalone apisix.yaml): /get to httpbin, 50% of 2000 requests mirrored with the same Host', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(seedRun, seedCheck, true);
  });

  it("plugin_attr's 2000ms mirror timeouts: a mirror that never answers is cut off after about 2 s, not 60, and the primary does not wait for it", async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const start = slowCopies.length;
        const h = await get(x, '/slow', 't.example');
        await waitFor('the slow copy arrives', () => slowCopies.length > start, 5000);
        const copy = slowCopies[start]!;
        await waitFor('the proxy gives up on the copy', () => copy.closed !== undefined, 8000);
        return { status: h.status, backend: h.backend, cutAfterMs: copy.closed! - copy.arrived };
      },
      (o) => {
        assert.equal(o.status, 200);
        assert.equal(o.backend, 'a');
        assert.ok(o.cutAfterMs >= 1500 && o.cutAfterMs < 8000, `cut off after ${o.cutAfterMs} ms`);
      },
      true,
    );
  });

  it('radixtree precedence: a full path before the longest prefix; on one uri the higher priority; methods; host routes, then wildcard hosts, then host-less ones', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const who = async (p: string, host = 't.example', method?: string) => {
          const h = await get(x, p, host, method ? { method } : {});
          return h.backend ?? h.status;
        };
        return {
          exact: await who('/p/exact'),
          long: await who('/p/long/x'),
          short: await who('/p/other'),
          prefixIsNotPathSeparated: await who('/pother'),
          priority: await who('/same/thing'),
          post: await who('/m', 't.example', 'POST'),
          get: await who('/m'),
          exactHost: await who('/h', 'exact.example'),
          exactHostWithPort: await who('/h', 'exact.example:9080'),
          wildHost: await who('/h', 'a.wild.example'),
          otherHost: await who('/h', 'other.example'),
          fallThrough: await who('/h2', 'exact.example'),
          disabled: await who('/off'),
        };
      },
      (o) =>
        assert.deepEqual(o, {
          exact: 'c',
          long: 'b',
          short: 'a',
          prefixIsNotPathSeparated: 404,
          priority: 'b',
          post: 'c',
          get: 'a',
          exactHost: 'b',
          exactHostWithPort: 'b',
          wildHost: 'c',
          otherHost: 'a',
          fallThrough: 'a',
          disabled: 404,
        }),
    );
  });

  it('node weights 1:3; pass_host node and rewrite (the mirror gets the same rewritten Host); a disabled plugin mirrors nothing', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const n = 1000;
        const res = await runBounded(n, 16, () => send(x.ports.apisix!, '/split', { headers: { host: 't.example' } }));
        const nodeHost = (await get(x, '/node', 't.example')).primary?.host;
        const svc = await get(x, '/svc/x', 'svc.example', { copies: 1 });
        const quiet = await get(x, '/quiet', 't.example', { copies: 0 });
        return { n, b: res.filter((r) => r.headers['x-backend'] === 'b').length, nodeHost, svc: { host: svc.primary?.host, copyHost: svc.copies.nginx?.host }, quietCopies: Object.keys(quiet.copies) };
      },
      (o) => {
        assertBinomial(o.b, o.n, 0.75, 'weight 3 of 4');
        assert.equal(o.nodeHost, `127.0.0.1:${b.port('c')}`);
        assert.deepEqual(o.svc, { host: 'rewritten.example', copyHost: 'rewritten.example' });
        assert.deepEqual(o.quietCopies, []);
      },
      true,
    );
  });

  it("seed 004's ADC form (a hot edit of the file): the same route, the same mirroring", async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.edit('apisix.yaml', () => local(example('seed-004-adc', 'adc.yaml'), b));
    await targets.onEach(seedRun, seedCheck, true);
  });

  it("seed 004's route with proxy-mirror's path (hot edits): replace sends the path with the query, prefix the path before the whole URI", async (t) => {
    if (!requireEnvoy(t)) return;
    const withPath = (conf: string) => () => local(example('seed-004-standalone', 'apisix.yaml'), b).replace('sample_ratio: 0.5', conf);
    const copyOf = async (x: ImportTarget) => {
      const h = await get(x, '/get?a=1&b=%2F', 'gateway.example', { copies: 1 });
      return { status: h.status, backend: h.backend, primary: h.primary?.path, copy: h.copies.nginx && { path: h.copies.nginx.path, host: h.copies.nginx.host } };
    };
    await targets.edit('apisix.yaml', withPath('path: /mirror'));
    await targets.onEach(copyOf, (o) =>
      assert.deepEqual(o, { status: 200, backend: 'httpbin', primary: '/get?a=1&b=%2F', copy: { path: '/mirror?a=1&b=%2F', host: 'gateway.example' } }),
    );
    await targets.edit('apisix.yaml', withPath('path: /mirror\n        path_concat_mode: prefix'));
    await targets.onEach(copyOf, (o) =>
      assert.deepEqual(o, { status: 200, backend: 'httpbin', primary: '/get?a=1&b=%2F', copy: { path: '/mirror/get?a=1&b=%2F', host: 'gateway.example' } }),
    );
    // The status page's row for the policy counts the copies that went through the internal listener.
    const engine = targets.targets.find((x) => x.name === 'engine')!;
    type Row = { virtualHost: string; route: string; mirror: string; clusters: string[]; percent: number | null; counters: { sent: number } };
    const stats = (await (await fetch(`http://127.0.0.1:${engine.cp.adminPort}/mirror_stats`)).json()) as { policies: Row[] };
    // The host-less route serves every Host (virtual host "any"); the model's row is the one with a percent.
    const rows = stats.policies.filter((p) => p.route === 'apisix.traffic-mirror-route.uri0' && p.virtualHost === 'any' && p.percent !== null);
    assert.equal(rows.length, 1, JSON.stringify(stats.policies));
    assert.equal(rows[0]!.mirror, rows[0]!.clusters[0]);
    assert.match(rows[0]!.clusters[0]!, /^mirror-path:proxy-mirror\.http\.127\.0\.0\.1\.\d+:[0-9a-f]{8}$/);
    assert.ok(rows[0]!.counters.sent >= 1, JSON.stringify(rows[0]));
  });
});
