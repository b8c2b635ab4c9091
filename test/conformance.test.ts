// One table of mirror and routing scenarios, run against real Envoy (filesystem xDS on the compiled
// resources) and against the built-in data plane on the same resources. Both must show the same
// results at the client and at the backends; a scenario that differs on purpose says why it is skipped.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResourceSet } from '../src/envoy-api/resource-set.js';
import { formatDocument } from '../src/envoy-api/document-format.js';
import type { JsonObject, TypedJson } from '../src/envoy-api/proto-json.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import type { DataPlane, RuntimeValues } from '../src/proxy/index.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { sleep } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { writeFileXds } from './helpers/file-xds.js';
import { assertBinomial as assertWithin } from './helpers/statistics.js';
import { freePort } from './helpers/ports.js';
import { compileYaml, rawExchange, runBounded, send, startBackend, startPlane, type Backend, type Received, type Response } from './helpers/proxy-harness.js';

const BACKENDS = ['svc-a', 'svc-b', 'mirror-a', 'mirror-b', 'slow', 'broken', 'paced', 'queued'] as const;
type BackendName = (typeof BACKENDS)[number];
const RUNTIME_KEY = 'conformance.runtime';
/** FractionalPercent runtime values, the form an RTDS layer carries: Envoy reads them from a static layer. */
const STRUCT_RUNTIME = {
  'conformance.struct.none': { numerator: 0, denominator: 'HUNDRED' },
  'conformance.struct.all': { numerator: 10000, denominator: 'TEN_THOUSAND' },
};

function configText(front: number, edge: number, ports: Record<BackendName | 'dead', number>): string {
  const m = (cluster: string, extra = ''): string => `[{ cluster: ${cluster}${extra} }]`;
  return `
listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - { name: exact, domains: ["exact.example"], routes: [{ name: vh-exact, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/exact/ }] }
      - { name: suffix, domains: ["*.suffix.example"], routes: [{ name: vh-suffix, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/suffix/ }] }
      - { name: prefix, domains: ["prefix.*"], routes: [{ name: vh-prefix, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/prefix/ }] }
      - { name: ported, domains: ["ported.example:8080"], routes: [{ name: vh-ported, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/ported/ }] }
      - { name: overlap-exact, domains: ["a.b.test"], routes: [{ name: vh-overlap-exact, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/overlap-exact/ }] }
      - { name: overlap-long, domains: ["*.b.test"], routes: [{ name: vh-overlap-long, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/overlap-long/ }] }
      - { name: overlap-short, domains: ["*.test"], routes: [{ name: vh-overlap-short, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/overlap-short/ }] }
      - { name: overlap-prefix, domains: ["a.*"], routes: [{ name: vh-overlap-prefix, match: { prefix: / }, cluster: svc-b, prefix_rewrite: /vh/overlap-prefix/ }] }
      - name: main
        domains: ["*"]
        routes:
          - { name: vh-main, match: { prefix: /vh/ }, cluster: svc-a }
          - { name: path, match: { path: /m/exact }, cluster: svc-b, prefix_rewrite: /hit/path }
          - { name: regex, match: { regex: "/m/re/[0-9]+" }, cluster: svc-b }
          - { name: hdr-exact, match: { prefix: /m/hdr, headers: [{ name: x-env, exact: canary }] }, cluster: svc-b, prefix_rewrite: /hit/hdr-exact }
          - { name: hdr-regex, match: { prefix: /m/hdr, headers: [{ name: x-env, regex: "beta|gamma" }] }, cluster: svc-b, prefix_rewrite: /hit/hdr-regex }
          - { name: hdr-absent, match: { prefix: /m/hdr, headers: [{ name: x-debug, present: true, invert: true }] }, cluster: svc-b, prefix_rewrite: /hit/hdr-absent }
          - { name: hdr-not, match: { prefix: /m/not, headers: [{ name: x-env, exact: prod, invert: true }] }, cluster: svc-b, prefix_rewrite: /hit/hdr-not }
          - { name: method, match: { prefix: /m/method, methods: [POST, PUT] }, cluster: svc-b, prefix_rewrite: /hit/method }
          - { name: ci, match: { prefix: /m/CI/, case_sensitive: false }, cluster: svc-b, prefix_rewrite: /hit/ci/ }
          - { name: sep, match: { path_separated_prefix: /m/sep/api }, cluster: svc-b, prefix_rewrite: /hit/sep }
          - { name: sep-ci, match: { path_separated_prefix: /m/SEPCI, case_sensitive: false }, cluster: svc-b, prefix_rewrite: /hit/sepci }
          - name: query
            match: { prefix: /m/query, query_parameters: [{ name: v, exact: "1" }, { name: flag, present: true }] }
            cluster: svc-b
            prefix_rewrite: /hit/query
          - name: query-re
            match: { prefix: /m/qre, query_parameters: [{ name: n, regex: "[0-9]+" }, { name: p, prefix: ab }] }
            cluster: svc-b
            prefix_rewrite: /hit/qre
          - { name: hdr-prefix, match: { prefix: /m/hpfx, headers: [{ name: x-env, prefix: can }] }, cluster: svc-b, prefix_rewrite: /hit/hdr-prefix }
          - { name: by-name, match: { prefix: /m/by-name }, cluster: by-name, mirrors: [{ cluster: by-name }] }
          - { name: m-fallback, match: { prefix: /m/ }, cluster: svc-a }
          - { name: mirror-static, match: { prefix: /mirror/static }, cluster: svc-a, mirrors: ${m('mirror-a')} }
          - { name: mirror-nosuffix, match: { prefix: /mirror/nosuffix }, cluster: svc-a, mirrors: ${m('mirror-a', ', shadow_host_suffix: false')} }
          - { name: mirror-hostrw, match: { prefix: /mirror/hostrw }, cluster: svc-a, mirrors: ${m('mirror-a', ', host_rewrite: shadow.example')} }
          - name: mirror-mutate
            match: { prefix: /mirror/mutate }
            cluster: svc-a
            mirrors: [{ cluster: mirror-a, headers: { add: { x-add: added }, set: { x-set: set }, remove: [x-secret] } }]
          - name: mirror-header
            match: { prefix: /mirror/header }
            cluster: svc-a
            mirrors: [{ cluster_header: x-mirror-cluster, allowed_clusters: [mirror-a] }]
          - { name: mirror-anyheader, match: { prefix: /mirror/anyheader }, cluster: svc-a, mirrors: [{ cluster_header: x-mirror-cluster }] }
          - { name: mirror-half, match: { prefix: /mirror/half }, cluster: svc-a, mirrors: ${m('mirror-b', ', percent: 50')} }
          - { name: mirror-two, match: { prefix: /mirror/two }, cluster: svc-a, mirrors: [{ cluster: mirror-a, percent: 50 }, { cluster: mirror-b, percent: 50 }] }
          - { name: mirror-runtime, match: { prefix: /mirror/runtime }, cluster: svc-a, mirrors: ${m('mirror-b', `, percent: 50, runtime_key: ${RUNTIME_KEY}`)} }
          - { name: mirror-struct-none, match: { prefix: /mirror/struct-none }, cluster: svc-a, mirrors: ${m('mirror-b', ', percent: 50, runtime_key: conformance.struct.none')} }
          - { name: mirror-struct-all, match: { prefix: /mirror/struct-all }, cluster: svc-a, mirrors: ${m('mirror-b', ', percent: 50, runtime_key: conformance.struct.all')} }
          - { name: mirror-path, match: { prefix: /mirror/path }, cluster: svc-a, mirrors: [{ cluster: mirror-a, path: { value: /copies/here } }] }
          - name: mirror-path-prefix
            match: { prefix: /mirror/ppfx }
            cluster: svc-a
            prefix_rewrite: /rewritten
            timeout: 2s
            mirrors: [{ cluster: mirror-a, path: { value: /copies, mode: prefix } }]
          - { name: upload, match: { prefix: /upload }, cluster: svc-a, mirrors: ${m('mirror-a')} }
          - { name: split, match: { prefix: /split }, weighted_clusters: [{ cluster: svc-a, weight: 1 }, { cluster: svc-b, weight: 3 }] }
          - { name: timeout, match: { prefix: /timeout }, cluster: slow, timeout: 0.5s }
          - { name: dead, match: { prefix: /dead }, cluster: dead, mirrors: ${m('mirror-a')} }
          - { name: reset, match: { prefix: /reset }, cluster: broken }
          - { name: guarded, match: { prefix: /guarded }, cluster: guarded }
          - { name: capped, match: { prefix: /capped }, cluster: capped }
          - { name: queued, match: { prefix: /queued }, cluster: svc-a, mirrors: ${m('queued-mirror')} }
          - { name: rewrite, match: { prefix: /rw/ }, cluster: svc-a, prefix_rewrite: /new/, host_rewrite: rewritten.example, mirrors: ${m('mirror-a')} }
          - name: regex-rewrite
            match: { prefix: /rx/ }
            cluster: svc-a
            regex_rewrite: { pattern: "^/rx/([^/]+)/(.*)$", substitution: "/\\\\2/x\\\\\\\\y/\\\\1" }
            mirrors: ${m('mirror-a')}
          - name: request-headers
            match: { prefix: /reqh }
            cluster: svc-a
            request_headers: { add: { x-add: added }, set: { x-set: set }, remove: [x-gone] }
            mirrors: ${m('mirror-a')}
  - name: edge
    address: 127.0.0.1:${edge}
    mirrors: ${m('mirror-a')}
    virtual_hosts:
      - { name: inherit, domains: ["inherit.example"], routes: [{ name: inherit, match: { prefix: / }, cluster: svc-a }] }
      - name: own
        domains: ["own.example"]
        mirrors: ${m('mirror-b')}
        routes:
          - { name: route-own, match: { prefix: /route }, cluster: svc-a, mirrors: ${m('mirror-a', ', shadow_host_suffix: false')} }
          - { name: vhost-own, match: { prefix: / }, cluster: svc-a }
clusters:
${BACKENDS.map((n) => `  - { name: ${n}, endpoints: ["127.0.0.1:${ports[n]}"] }`).join('\n')}
  - { name: dead, endpoints: ["127.0.0.1:${ports.dead}"], connect_timeout: 0.5s }
  - { name: guarded, endpoints: ["127.0.0.1:${ports.paced}"], circuit_breakers: { max_connections: 1, max_pending_requests: 1, max_requests: 1 } }
  - { name: capped, endpoints: ["127.0.0.1:${ports.slow}"], max_stream_duration: 0.3s }
  - name: queued-mirror
    endpoints: ["127.0.0.1:${ports.queued}"]
    max_stream_duration: 0.5s
    circuit_breakers: { max_connections: 1, max_pending_requests: 16, max_requests: 16 }
  - { name: by-name, type: strict_dns, dns_lookup_family: v4_only, endpoints: ["localhost:${ports['svc-b']}"] }
`;
}

const EDS = { ads: {}, resource_api_version: 'V3' };

/**
 * What the YAML cannot say, added to the resources both targets get: a route to a cluster that does
 * not exist, and an EDS cluster whose assignment has no endpoints.
 */
function withUnreachableClusters(r: ResourceSet): ResourceSet {
  const routes = structuredClone(r.routes) as Array<TypedJson & { virtual_hosts: Array<{ name: string; routes: JsonObject[] }> }>;
  const main = routes[0]!.virtual_hosts.find((v) => v.name === 'main')!;
  const mirror = [{ cluster: 'mirror-a', runtime_fraction: { default_value: { numerator: 100 }, runtime_key: 'conformance.unreachable' } }];
  main.routes.push({ name: 'no-cluster', match: { prefix: '/no-cluster' }, route: { cluster: 'missing', request_mirror_policies: mirror } });
  main.routes.push({ name: 'empty', match: { prefix: '/empty' }, route: { cluster: 'empty', request_mirror_policies: mirror } });
  return {
    ...r,
    routes,
    clusters: [...r.clusters, { '@type': TypeUrl.Cluster, name: 'empty', type: 'EDS', eds_cluster_config: { eds_config: EDS }, connect_timeout: '1s' }],
    endpoints: [...r.endpoints, { '@type': TypeUrl.ClusterLoadAssignment, cluster_name: 'empty', endpoints: [] }],
  };
}

interface Target {
  readonly name: 'envoy' | 'engine';
  readonly front: number;
  readonly edge: number;
  setRuntime(key: string, value: string): Promise<void>;
}

interface RequestSpec {
  readonly path: string;
  readonly host?: string;
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: Buffer;
  readonly listener?: 'front' | 'edge';
}

/** What the client got, and what reached each backend, for one request. */
interface Seen {
  readonly status: number;
  /** Body of a local reply (empty when the request reached a backend; its name is in `backend`). */
  readonly reply: string;
  readonly backend: string | null;
  readonly upstream: Received | undefined;
  readonly mirrors: Partial<Record<BackendName, Received>>;
}

const backends = {} as Record<BackendName, Backend>;
let counter = 0;

function tagged(name: BackendName, tag: string): Received | undefined {
  return backends[name].tagged(tag)[0];
}

/**
 * Sends one request with a unique tag and collects what the backends saw of it. With
 * `mirrorsExpected`, waits for that many copies (and, for 0, a moment for an unexpected one).
 */
async function hit(t: Target, r: RequestSpec, mirrorsExpected?: number): Promise<Seen> {
  const tag = `${t.name}-${++counter}`;
  const res: Response = await send(r.listener === 'edge' ? t.edge : t.front, r.path, {
    method: r.method ?? (r.body ? 'POST' : 'GET'),
    headers: { host: r.host ?? 'front.example', 'x-test-tag': tag, ...r.headers },
    ...(r.body ? { body: r.body } : {}),
  });
  const mirrorNames: BackendName[] = ['mirror-a', 'mirror-b'];
  const arrived = (): number => mirrorNames.filter((n) => tagged(n, tag)).length;
  const deadline = Date.now() + 3000;
  while (mirrorsExpected !== undefined && arrived() < mirrorsExpected && Date.now() < deadline) await sleep(10);
  // A copy that should not exist gets a moment to show up before we say it did not.
  if (mirrorsExpected !== undefined) await sleep(mirrorsExpected === 0 ? 150 : 50);
  const upstreamName = (['svc-a', 'svc-b', 'slow'] as const).find((n) => tagged(n, tag));
  const mirrors: Partial<Record<BackendName, Received>> = {};
  for (const n of mirrorNames) {
    const got = tagged(n, tag);
    if (got) mirrors[n] = got;
  }
  const backend = typeof res.headers['x-backend'] === 'string' ? res.headers['x-backend'] : null;
  return { status: res.status, reply: backend ? '' : res.body, backend, upstream: upstreamName ? tagged(upstreamName, tag) : undefined, mirrors };
}

/** Route-level view: status, who answered, and the path it was sent with. */
function routed(s: Seen): { status: number; backend: string | null; path: string | null; reply: string } {
  return { status: s.status, backend: s.backend, path: s.upstream?.path ?? null, reply: s.reply };
}

/** Which mirrors got a copy, and the Host each copy carried. */
function mirrored(s: Seen): Record<string, string> {
  return Object.fromEntries(Object.entries(s.mirrors).map(([n, r]) => [n, r!.host]));
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Scenario<T> {
  readonly name: string;
  /** Why this scenario does not run against both (the data plane differs on purpose). */
  readonly skip?: string;
  readonly run: (t: Target) => Promise<T>;
  /** What must hold for each target. */
  readonly check: (o: T) => void;
  /** Statistical results are checked against expectations only, not compared between targets. */
  readonly statistical?: boolean;
}

const scenario = <T,>(s: Scenario<T>): Scenario<unknown> => s as Scenario<unknown>;

/** 5 standard deviations: these samples are small, and the same seed runs on two targets. */
const assertBinomial = (hits: number, n: number, p: number, what: string): void => assertWithin(hits, n, p, what, 5);

const SCENARIOS: Array<Scenario<unknown>> = [
  scenario({
    name: 'virtual host by Host: exact, *.suffix, prefix.*, a port is part of the Host, case-insensitive, * last',
    run: async (t) => {
      const hosts: Array<[string, string]> = [
        ...['exact.example', 'EXACT.Example', 'exact.example:8080', 'a.suffix.example', '.suffix.example', 'a.suffix.example:80'].map((h): [string, string] => [h, h]),
        ...['prefix.anything', 'ported.example:8080', 'ported.example'].map((h): [string, string] => [h, h]),
        ...['a.b.test', 'x.b.test', 'x.test', 'a.x.test', 'a.zzz'].map((h): [string, string] => [h, h]),
        ['localhost:<port>', `localhost:${t.front}`],
      ];
      const out: Record<string, string | null> = {};
      for (const [label, host] of hosts) out[label] = (await hit(t, { path: '/x', host })).upstream?.path ?? null;
      return out;
    },
    check: (o) =>
      assert.deepEqual(o, {
        'exact.example': '/vh/exact/x',
        'EXACT.Example': '/vh/exact/x',
        'exact.example:8080': null,
        'a.suffix.example': '/vh/suffix/x',
        '.suffix.example': null,
        'a.suffix.example:80': '/vh/overlap-prefix/x', // a port defeats the suffix, not the prefix a.*
        'prefix.anything': '/vh/prefix/x',
        'ported.example:8080': '/vh/ported/x',
        'ported.example': null,
        // Overlapping patterns: exact, then the longest suffix, then any suffix before a prefix.
        'a.b.test': '/vh/overlap-exact/x',
        'x.b.test': '/vh/overlap-long/x',
        'x.test': '/vh/overlap-short/x',
        'a.x.test': '/vh/overlap-short/x',
        'a.zzz': '/vh/overlap-prefix/x',
        'localhost:<port>': null,
      }),
  }),
  scenario({
    name: 'first matching route: path, regex (full match, query ignored), headers (exact, regex, absent, inverted, repeated), method, case_sensitive, 404',
    run: async (t) => {
      const cases: Record<string, RequestSpec> = {
        path: { path: '/m/exact?q=1' },
        'path, longer': { path: '/m/exactly' },
        regex: { path: '/m/re/42?x=y' },
        'regex, partial': { path: '/m/re/42a' },
        'header exact': { path: '/m/hdr', headers: { 'x-env': 'canary', 'x-debug': '1' } },
        'header regex': { path: '/m/hdr', headers: { 'x-env': 'gamma', 'x-debug': '1' } },
        'header regex, partial': { path: '/m/hdr', headers: { 'x-env': 'betamax', 'x-debug': '1' } },
        'header absent': { path: '/m/hdr' },
        'header repeated, one value matches': { path: '/m/hdr', headers: { 'x-env': ['prod', 'canary'], 'x-debug': '1' } },
        'inverted, other value': { path: '/m/not', headers: { 'x-env': 'dev' } },
        'inverted, same value': { path: '/m/not', headers: { 'x-env': 'prod' } },
        'inverted, header missing': { path: '/m/not' },
        'method POST': { path: '/m/method', method: 'POST' },
        'method GET': { path: '/m/method' },
        'case-insensitive prefix': { path: '/m/ci/Deep/Path' },
        'no route': { path: '/nothing/here' },
      };
      const out: Record<string, ReturnType<typeof routed>> = {};
      for (const [name, r] of Object.entries(cases)) out[name] = routed(await hit(t, r));
      return out;
    },
    check: (o) => {
      const r = o as Record<string, ReturnType<typeof routed>>;
      const at = (backend: string, p: string) => ({ status: 200, backend, path: p, reply: '' });
      assert.deepEqual(r.path, at('svc-b', '/hit/path?q=1'));
      assert.deepEqual(r['path, longer'], at('svc-a', '/m/exactly'));
      assert.deepEqual(r.regex, at('svc-b', '/m/re/42?x=y'));
      assert.deepEqual(r['regex, partial'], at('svc-a', '/m/re/42a'));
      assert.deepEqual(r['header exact'], at('svc-b', '/hit/hdr-exact'));
      assert.deepEqual(r['header regex'], at('svc-b', '/hit/hdr-regex'));
      assert.deepEqual(r['header regex, partial'], at('svc-a', '/m/hdr'));
      assert.deepEqual(r['header absent'], at('svc-b', '/hit/hdr-absent'));
      assert.deepEqual(r['header repeated, one value matches'], at('svc-b', '/hit/hdr-exact'));
      assert.deepEqual(r['inverted, other value'], at('svc-b', '/hit/hdr-not'));
      assert.deepEqual(r['inverted, same value'], at('svc-a', '/m/not'));
      assert.deepEqual(r['inverted, header missing'], at('svc-a', '/m/not'));
      assert.deepEqual(r['method POST'], at('svc-b', '/hit/method'));
      assert.deepEqual(r['method GET'], at('svc-a', '/m/method'));
      assert.deepEqual(r['case-insensitive prefix'], at('svc-b', '/hit/ci/Deep/Path'));
      assert.deepEqual(r['no route'], { status: 404, backend: null, path: null, reply: '' });
    },
  }),
  scenario({
    name: 'no virtual host for the Host → 404 with an empty body',
    run: async (t) => routed(await hit(t, { path: '/', host: 'other.example', listener: 'edge' })),
    check: (o) => assert.deepEqual(o, { status: 404, backend: null, path: null, reply: '' }),
  }),
  scenario({
    name: 'headers the primary and the copy get: x-forwarded-proto, x-request-id, expected timeout, hop-by-hop and internal headers dropped',
    run: async (t) => {
      const s = await hit(
        t,
        {
          path: '/mirror/static',
          headers: {
            connection: 'keep-alive, x-hop',
            'x-hop': 'dropped',
            'keep-alive': 'timeout=5',
            te: 'trailers, deflate',
            'x-envoy-upstream-rq-timeout-ms': '1',
            'x-envoy-internal': 'true',
            'x-envoy-retry-on': '5xx',
            'x-forwarded-for': '203.0.113.7',
            'x-keep': 'kept',
          },
        },
        1,
      );
      const view = (r: Received | undefined) => {
        const h = { ...r?.headers };
        delete h['x-test-tag'];
        delete h.connection; // each proxy's own connection handling towards the backend
        return { ...h, 'x-request-id': UUID_RE.test(String(h['x-request-id'])) ? '<uuid>' : h['x-request-id'] };
      };
      return { primary: view(s.upstream), copy: view(s.mirrors['mirror-a']), sameId: s.upstream?.headers['x-request-id'] === s.mirrors['mirror-a']?.headers['x-request-id'] };
    },
    check: (o) => {
      const { primary, copy, sameId } = o as { primary: Record<string, unknown>; copy: Record<string, unknown>; sameId: boolean };
      assert.deepEqual(primary, {
        host: 'front.example',
        te: 'trailers',
        'x-forwarded-for': '203.0.113.7',
        'x-keep': 'kept',
        'x-forwarded-proto': 'http',
        'x-request-id': '<uuid>',
        'x-envoy-expected-rq-timeout-ms': '15000',
      });
      assert.equal(copy.host, 'front.example-shadow');
      assert.equal(copy['x-envoy-internal'], 'true');
      assert.match(String(copy['x-forwarded-for']), /^203\.0\.113\.7,[0-9.]+$/);
      assert.equal(sameId, true);
    },
  }),
  scenario({
    name: 'host suffix: host-shadow, host-shadow:port, [v6]-shadow:port; disabled; host_rewrite wins over the suffix',
    run: async (t) => {
      const out: Record<string, Record<string, string>> = {};
      for (const [p, host] of [
        ['/mirror/static', 'svc.example'],
        ['/mirror/static', 'svc.example:8080'],
        ['/mirror/static', '[::1]:8080'],
        ['/mirror/nosuffix', 'svc.example:8080'],
        ['/mirror/hostrw', 'svc.example:8080'],
      ] as const) {
        out[`${p} ${host}`] = mirrored(await hit(t, { path: p, host }, 1));
      }
      return out;
    },
    check: (o) =>
      assert.deepEqual(o, {
        '/mirror/static svc.example': { 'mirror-a': 'svc.example-shadow' },
        '/mirror/static svc.example:8080': { 'mirror-a': 'svc.example-shadow:8080' },
        '/mirror/static [::1]:8080': { 'mirror-a': '[::1]-shadow:8080' },
        '/mirror/nosuffix svc.example:8080': { 'mirror-a': 'svc.example:8080' },
        '/mirror/hostrw svc.example:8080': { 'mirror-a': 'shadow.example' },
      }),
  }),
  scenario({
    name: "a mirror path (through an internal listener): replace keeps the query, prefix puts the copy's whole path and query after it; the primary keeps its path",
    run: async (t) => {
      const view = (r: Received | undefined) => {
        if (!r) return undefined;
        const h: Record<string, unknown> = { ...r.headers };
        for (const k of ['x-test-tag', 'connection', 'content-length', 'transfer-encoding']) delete h[k];
        return { method: r.method, path: r.path, bodyLength: r.bodyLength, headers: { ...h, 'x-request-id': UUID_RE.test(String(h['x-request-id'])) ? '<uuid>' : h['x-request-id'] } };
      };
      const replace = await hit(t, { path: '/mirror/path/x?q=1&r=%2F', headers: { 'x-forwarded-for': '203.0.113.7' } }, 1);
      const prefix = await hit(t, { path: '/mirror/ppfx/y?z=2', body: Buffer.alloc(3000, 7) }, 1);
      return { replace: { primary: replace.upstream?.path, copy: view(replace.mirrors['mirror-a']) }, prefix: { primary: prefix.upstream?.path, copy: view(prefix.mirrors['mirror-a']) } };
    },
    check: (o) => {
      const r = o as Record<'replace' | 'prefix', { primary: string; copy: { method: string; path: string; bodyLength: number; headers: Record<string, unknown> } }>;
      assert.equal(r.replace.primary, '/mirror/path/x?q=1&r=%2F');
      assert.equal(r.replace.copy.path, '/copies/here?q=1&r=%2F');
      assert.equal(r.replace.copy.headers.host, 'front.example-shadow');
      assert.equal(r.replace.copy.headers['x-envoy-original-path'], '/mirror/path/x?q=1&r=%2F');
      assert.equal(r.prefix.primary, '/rewritten/y?z=2');
      // APISIX's prefix mode: the configured path, then the path the primary is sent with (after rewrites) and its query.
      assert.deepEqual([r.prefix.copy.method, r.prefix.copy.path, r.prefix.copy.bodyLength], ['POST', '/copies/rewritten/y?z=2', 3000]);
    },
  }),
  scenario({
    name: 'header mutations (add, set, remove) apply to the copy only',
    run: async (t) => {
      const s = await hit(t, { path: '/mirror/mutate', headers: { 'x-add': 'original', 'x-set': 'original', 'x-secret': 'token' } }, 1);
      const pick = (r: Received | undefined) => r?.rawHeaders.filter(([k]) => ['x-add', 'x-set', 'x-secret'].includes(k));
      return { primary: pick(s.upstream), copy: pick(s.mirrors['mirror-a']) };
    },
    check: (o) =>
      assert.deepEqual(o, {
        primary: [['x-add', 'original'], ['x-set', 'original'], ['x-secret', 'token']],
        // add appends; set drops every value and appends (Envoy's order); remove drops.
        copy: [['x-add', 'original'], ['x-add', 'added'], ['x-set', 'set']],
      }),
  }),
  scenario({
    name: 'header-selected mirror: allowlisted, missing, unknown, not allowlisted; without allowlist any known cluster',
    run: async (t) => {
      const h = (v: string | string[] | undefined, route = '/mirror/header') =>
        hit(t, { path: route, ...(v === undefined ? {} : { headers: { 'x-mirror-cluster': v } }) }, v === 'mirror-a' || (route !== '/mirror/header' && v === 'mirror-b') ? 1 : 0);
      const out: Record<string, { status: number; backend: string | null; mirrors: Record<string, string> }> = {};
      for (const [name, v, route] of [
        ['allowlisted', 'mirror-a', undefined],
        ['missing', undefined, undefined],
        ['empty', '', undefined],
        ['unknown', 'nonexistent', undefined],
        ['not allowlisted', 'mirror-b', undefined],
        ['no allowlist, known', 'mirror-b', '/mirror/anyheader'],
        ['no allowlist, unknown', 'nonexistent', '/mirror/anyheader'],
      ] as const) {
        const s = await h(v, route);
        out[name] = { status: s.status, backend: s.backend, mirrors: mirrored(s) };
      }
      return out;
    },
    check: (o) => {
      const none = { status: 200, backend: 'svc-a', mirrors: {} };
      assert.deepEqual(o, {
        allowlisted: { status: 200, backend: 'svc-a', mirrors: { 'mirror-a': 'front.example-shadow' } },
        missing: none,
        empty: none,
        unknown: none,
        'not allowlisted': none,
        'no allowlist, known': { status: 200, backend: 'svc-a', mirrors: { 'mirror-b': 'front.example-shadow' } },
        'no allowlist, unknown': none,
      });
    },
  }),
  scenario({
    name: 'repeated x-mirror-cluster [mirror-b, mirror-a]: only the allowlisted value is mirrored to (the variant pins the cluster)',
    run: async (t) => mirrored(await hit(t, { path: '/mirror/header', headers: { 'x-mirror-cluster': ['mirror-b', 'mirror-a'] } }, 1)),
    check: (o) => assert.deepEqual(o, { 'mirror-a': 'front.example-shadow' }),
  }),
  scenario({
    name: 'mirror lists: route beats virtual host beats route configuration (listener)',
    run: async (t) => ({
      inherited: mirrored(await hit(t, { path: '/', host: 'inherit.example', listener: 'edge' }, 1)),
      vhost: mirrored(await hit(t, { path: '/', host: 'own.example', listener: 'edge' }, 1)),
      route: mirrored(await hit(t, { path: '/route', host: 'own.example', listener: 'edge' }, 1)),
    }),
    check: (o) =>
      assert.deepEqual(o, {
        inherited: { 'mirror-a': 'inherit.example-shadow' },
        vhost: { 'mirror-b': 'own.example-shadow' },
        route: { 'mirror-a': 'own.example' },
      }),
  }),
  scenario({
    name: 'sampling: 50% of 1000 requests are mirrored (binomial tolerance)',
    statistical: true,
    run: async (t) => {
      const before = backends['mirror-b'].received.length;
      const n = 1000;
      await runBounded(n, 16, () => send(t.front, '/mirror/half', { headers: { host: 'front.example' } }));
      await sleep(300);
      return { n, mirrored: backends['mirror-b'].received.length - before };
    },
    check: (o) => {
      const { n, mirrored: m } = o as { n: number; mirrored: number };
      assertBinomial(m, n, 0.5, 'mirrored');
    },
  }),
  scenario({
    name: 'two policies at 50%: one random value per request, so a request gets both copies or neither',
    statistical: true,
    run: async (t) => {
      const n = 400;
      const tags = Array.from({ length: n }, () => `${t.name}-two-${++counter}`);
      await runBounded(n, 16, (i) => send(t.front, '/mirror/two', { headers: { host: 'front.example', 'x-test-tag': tags[i]! } }));
      await sleep(300);
      const a = new Set(tags.filter((tag) => tagged('mirror-a', tag)));
      const b = new Set(tags.filter((tag) => tagged('mirror-b', tag)));
      return { n, both: [...a].filter((x) => b.has(x)).length, onlyOne: [...a].filter((x) => !b.has(x)).length + [...b].filter((x) => !a.has(x)).length };
    },
    check: (o) => {
      const { n, both, onlyOne } = o as { n: number; both: number; onlyOne: number };
      assert.equal(onlyOne, 0);
      assertBinomial(both, n, 0.5, 'mirrored to both');
    },
  }),
  scenario({
    name: 'runtime_key overrides the default percentage (0, 100, 30.7 → 30, invalid → default)',
    statistical: true,
    run: async (t) => {
      const count = async (value: string, n: number): Promise<number> => {
        await t.setRuntime(RUNTIME_KEY, value);
        const before = backends['mirror-b'].received.length;
        await runBounded(n, 16, () => send(t.front, '/mirror/runtime', { headers: { host: 'front.example' } }));
        await sleep(300);
        return backends['mirror-b'].received.length - before;
      };
      return { zero: await count('0', 50), hundred: await count('100', 50), thirty: await count('30.7', 600), invalid: await count('abc', 600) };
    },
    check: (o) => {
      const r = o as Record<'zero' | 'hundred' | 'thirty' | 'invalid', number>;
      assert.equal(r.zero, 0);
      assert.equal(r.hundred, 50);
      assertBinomial(r.thirty, 600, 0.3, 'runtime 30.7');
      assertBinomial(r.invalid, 600, 0.5, 'runtime abc (default 50%)');
    },
  }),
  scenario({
    name: 'FractionalPercent runtime values (the RTDS form) override the default: 0/100 and 10000/TEN_THOUSAND',
    run: async (t) => {
      const count = async (p: string): Promise<number> => {
        const before = backends['mirror-b'].received.length;
        await runBounded(40, 8, () => send(t.front, p, { headers: { host: 'front.example' } }));
        await sleep(200);
        return backends['mirror-b'].received.length - before;
      };
      return { none: await count('/mirror/struct-none'), all: await count('/mirror/struct-all') };
    },
    check: (o) => assert.deepEqual(o, { none: 0, all: 40 }),
  }),
  scenario({
    name: 'weighted clusters 1:3 over 1000 requests (binomial tolerance)',
    statistical: true,
    run: async (t) => {
      const res = await runBounded(1000, 16, () => send(t.front, '/split', { headers: { host: 'front.example' } }));
      return { n: res.length, a: res.filter((r) => r.headers['x-backend'] === 'svc-a').length, b: res.filter((r) => r.headers['x-backend'] === 'svc-b').length };
    },
    check: (o) => {
      const { n, a, b } = o as { n: number; a: number; b: number };
      assert.equal(a + b, n);
      assertBinomial(a, n, 0.25, 'svc-a');
    },
  }),
  scenario({
    name: 'a 5 MiB POST reaches the primary and the mirror intact (length and SHA-256)',
    run: async (t) => {
      const body = randomBytes(5 * 1024 * 1024);
      const sha = createHash('sha256').update(body).digest('hex');
      const s = await hit(t, { path: '/upload', body }, 1);
      const view = (r: Received | undefined) => ({ length: r?.bodyLength, intact: r?.bodySha256 === sha });
      return { status: s.status, primary: view(s.upstream), mirror: view(s.mirrors['mirror-a']) };
    },
    check: (o) => assert.deepEqual(o, { status: 200, primary: { length: 5 * 1024 * 1024, intact: true }, mirror: { length: 5 * 1024 * 1024, intact: true } }),
  }),
  scenario({
    name: 'route timeout 0.5 s on a backend that answers after 2 s → 504 upstream request timeout',
    run: async (t) => {
      const started = Date.now();
      const s = routed(await hit(t, { path: '/timeout' }));
      return { ...s, path: null, fast: Date.now() - started < 1800 };
    },
    check: (o) => assert.deepEqual(o, { status: 504, backend: null, path: null, reply: 'upstream request timeout', fast: true }),
  }),
  scenario({
    name: 'prefix_rewrite and host_rewrite keep the originals in x-envoy-original-*, and the copy starts from the rewritten request',
    run: async (t) => {
      const s = await hit(t, { path: '/rw/x?q=1' }, 1);
      const view = (r: Received | undefined) => r && { path: r.path, host: r.host, originalPath: r.headers['x-envoy-original-path'], originalHost: r.headers['x-envoy-original-host'] };
      return { primary: view(s.upstream), copy: view(s.mirrors['mirror-a']) };
    },
    check: (o) =>
      assert.deepEqual(o, {
        primary: { path: '/new/x?q=1', host: 'rewritten.example', originalPath: '/rw/x?q=1', originalHost: 'front.example' },
        copy: { path: '/new/x?q=1', host: 'rewritten.example-shadow', originalPath: '/rw/x?q=1', originalHost: 'front.example' },
      }),
  }),
  scenario({
    name: 'path_separated_prefix: whole path elements only, query ignored, case_sensitive applies; prefix_rewrite replaces the prefix',
    run: async (t) => {
      const out: Record<string, string | null> = {};
      for (const p of ['/m/sep/api', '/m/sep/api/', '/m/sep/api/v1', '/m/sep/api?x=1', '/m/sep/apix', '/m/sep/ap', '/m/SEP/api', '/m/sepci/x', '/m/SepCi', '/m/sepcix']) {
        const s = await hit(t, { path: p });
        out[p] = s.upstream ? `${s.backend} ${s.upstream.path}` : String(s.status);
      }
      return out;
    },
    check: (o) =>
      assert.deepEqual(o, {
        '/m/sep/api': 'svc-b /hit/sep',
        '/m/sep/api/': 'svc-b /hit/sep/',
        '/m/sep/api/v1': 'svc-b /hit/sep/v1',
        '/m/sep/api?x=1': 'svc-b /hit/sep?x=1',
        '/m/sep/apix': 'svc-a /m/sep/apix',
        '/m/sep/ap': 'svc-a /m/sep/ap',
        '/m/SEP/api': 'svc-a /m/SEP/api',
        '/m/sepci/x': 'svc-b /hit/sepci/x',
        '/m/SepCi': 'svc-b /hit/sepci',
        '/m/sepcix': 'svc-a /m/sepcix',
      }),
  }),
  scenario({
    name: 'query parameters: exact and present on the first value, not percent-decoded; regex (full match) and prefix; header prefix',
    run: async (t) => {
      const out: Record<string, string | null> = {};
      for (const p of [
        '/m/query?v=1&flag',
        '/m/query?flag=&v=1',
        '/m/query?v=1',
        '/m/query?flag&v=2',
        '/m/query?v=1&v=2&flag=x',
        '/m/query?v=2&v=1&flag',
        '/m/query?v=%31&flag',
        '/m/query?V=1&flag',
        '/m/qre?n=42&p=abc',
        '/m/qre?n=42a&p=abc',
        '/m/qre?n=42&p=xab',
      ]) {
        const s = await hit(t, { path: p });
        out[p] = s.backend;
      }
      out['header prefix'] = (await hit(t, { path: '/m/hpfx', headers: { 'x-env': 'canary' } })).backend;
      out['header prefix, miss'] = (await hit(t, { path: '/m/hpfx', headers: { 'x-env': 'xcanary' } })).backend;
      return out;
    },
    check: (o) =>
      assert.deepEqual(o, {
        '/m/query?v=1&flag': 'svc-b',
        '/m/query?flag=&v=1': 'svc-b',
        '/m/query?v=1': 'svc-a',
        '/m/query?flag&v=2': 'svc-a',
        '/m/query?v=1&v=2&flag=x': 'svc-b',
        '/m/query?v=2&v=1&flag': 'svc-a',
        '/m/query?v=%31&flag': 'svc-a',
        '/m/query?V=1&flag': 'svc-a',
        '/m/qre?n=42&p=abc': 'svc-b',
        '/m/qre?n=42a&p=abc': 'svc-a',
        '/m/qre?n=42&p=xab': 'svc-a',
        'header prefix': 'svc-b',
        'header prefix, miss': 'svc-a',
      }),
  }),
  scenario({
    name: 'regex_rewrite: groups and an escaped backslash, query kept, original in x-envoy-original-path; the copy is rewritten too',
    run: async (t) => {
      const s = await hit(t, { path: '/rx/a/b/c?q=1' }, 1);
      const view = (r: Received | undefined) => r && { path: r.path, originalPath: r.headers['x-envoy-original-path'] };
      return { primary: view(s.upstream), copy: view(s.mirrors['mirror-a']) };
    },
    check: (o) =>
      assert.deepEqual(o, {
        primary: { path: '/b/c/x\\y/a?q=1', originalPath: '/rx/a/b/c?q=1' },
        copy: { path: '/b/c/x\\y/a?q=1', originalPath: '/rx/a/b/c?q=1' },
      }),
  }),
  scenario({
    name: 'route request headers: removes, then sets (overwriting every value), then adds (appended); the copy carries them too',
    run: async (t) => {
      const s = await hit(t, { path: '/reqh', headers: { 'x-add': 'original', 'x-set': ['one', 'two'], 'x-gone': 'secret', 'x-keep': 'kept' } }, 1);
      const pick = (r: Received | undefined) => r?.rawHeaders.filter(([k]) => ['x-add', 'x-set', 'x-gone', 'x-keep'].includes(k));
      return { primary: pick(s.upstream), copy: pick(s.mirrors['mirror-a']) };
    },
    check: (o) =>
      assert.deepEqual(o, {
        primary: [['x-add', 'original'], ['x-keep', 'kept'], ['x-set', 'set'], ['x-add', 'added']],
        copy: [['x-add', 'original'], ['x-keep', 'kept'], ['x-set', 'set'], ['x-add', 'added']],
      }),
  }),
  scenario({
    name: 'a strict_dns cluster pinned to IPv4 (dns_lookup_family V4_ONLY, as Istio sets it) reaches localhost on 127.0.0.1, primary and copy',
    run: async (t) => {
      const before = backends['svc-b'].received.length;
      const s = await hit(t, { path: '/m/by-name' });
      await backends['svc-b'].waitFor(before + 2);
      return { status: s.status, backend: s.backend, received: backends['svc-b'].received.length - before };
    },
    check: (o) => assert.deepEqual(o, { status: 200, backend: 'svc-b', received: 2 }),
  }),
  scenario({
    name: 'upstream resets before the response headers → 503 with the reset reason',
    run: async (t) => routed(await hit(t, { path: '/reset' })),
    check: (o) => assert.deepEqual(o, { status: 503, backend: null, path: null, reply: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination' }),
  }),
  scenario({
    name: 'Expect: 100-continue is answered by the proxy and not forwarded',
    run: async (t) => {
      const raw = await rawExchange(t.front, 'POST /m/x HTTP/1.1\r\nhost: a\r\nx-test-tag: expect-' + t.name + '\r\ncontent-length: 2\r\nexpect: 100-continue\r\nconnection: close\r\n\r\nok', 1000);
      const upstream = tagged('svc-a', `expect-${t.name}`);
      return { interim: raw.startsWith('HTTP/1.1 100 Continue'), final: /HTTP\/1\.1 200 OK/.test(raw), forwardedExpect: upstream?.headers.expect ?? null, bodyLength: upstream?.bodyLength };
    },
    check: (o) => assert.deepEqual(o, { interim: true, final: true, forwardedExpect: null, bodyLength: 2 }),
  }),
  scenario({
    name: 'a cluster that does not exist → 503 with an empty body; one without endpoints → 503 no healthy upstream; neither is mirrored',
    run: async (t) => {
      const seen = async (p: string) => {
        const s = await hit(t, { path: p }, 0);
        return { ...routed(s), mirrors: mirrored(s) };
      };
      return { missing: await seen('/no-cluster'), empty: await seen('/empty') };
    },
    check: (o) =>
      assert.deepEqual(o, {
        missing: { status: 503, backend: null, path: null, reply: '', mirrors: {} },
        empty: { status: 503, backend: null, path: null, reply: 'no healthy upstream', mirrors: {} },
      }),
  }),
  scenario({
    name: 'circuit breakers (1 connection, 1 request, 1 pending): of 3 concurrent requests one waits and one overflows',
    skip:
      "differs on purpose: Envoy keeps a connection pool per worker thread under cluster-wide limits, so which request overflows depends on the worker that accepts it (measured [200, 503, 200] with 2 workers); the data plane has one pool and answers as Envoy with one worker, [200, 200, 503] (test/proxy-routing.test.ts)",
    run: async (t) => {
      const res = await Promise.all([0, 1, 2].map((i) => sleep(i * 50).then(() => send(t.front, '/guarded', { headers: { host: 'front.example' } }))));
      return res.map((r) => ({ status: r.status, body: r.body, overloaded: r.headers['x-envoy-overloaded'] ?? null }));
    },
    check: (o) =>
      assert.deepEqual(o, [
        { status: 200, body: 'paced\n', overloaded: null },
        { status: 200, body: 'paced\n', overloaded: null },
        { status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow', overloaded: 'true' },
      ]),
  }),
  scenario({
    name: "queued copies: a mirror cluster's max_stream_duration (0.5 s) runs from the copy's connection, not from its wait for one (8 copies, 1 connection, 0.1 s each)",
    run: async (t) => {
      // Pipelined on one connection, so that Envoy handles them on one worker and its one mirror pool.
      const tags = Array.from({ length: 8 }, (_, i) => `${t.name}-queued-${++counter}-${i}`);
      const text = tags.map((tag, i) => `GET /queued/${i} HTTP/1.1\r\nhost: front.example\r\nx-test-tag: ${tag}\r\n${i === tags.length - 1 ? 'connection: close\r\n' : ''}\r\n`).join('');
      const raw = await rawExchange(t.front, text, 5000);
      const deadline = Date.now() + 4000;
      const arrived = (): number => tags.filter((tag) => backends.queued.tagged(tag).length > 0).length;
      while (arrived() < tags.length && Date.now() < deadline) await sleep(20);
      await sleep(600); // a copy still to be cut off would be by now
      return { responses: raw.split('HTTP/1.1 ').slice(1).map((r) => r.split('\r\n')[0]), copiesReceived: arrived() };
    },
    check: (o) => assert.deepEqual(o, { responses: Array.from({ length: 8 }, () => '200 OK'), copiesReceived: 8 }),
  }),
  scenario({
    name: 'the cluster max_stream_duration (0.3 s) cuts off a slow primary → 504',
    run: async (t) => routed(await hit(t, { path: '/capped' })),
    check: (o) => assert.deepEqual(o, { status: 504, backend: null, path: '/capped', reply: 'upstream max stream duration reached' }),
  }),
  scenario({
    name: 'connection refused → 503 with the reset reason; the copy still goes out',
    run: async (t) => {
      const s = await hit(t, { path: '/dead' }, 1);
      return { ...routed(s), mirrors: mirrored(s) };
    },
    check: (o) =>
      assert.deepEqual(o, {
        status: 503,
        backend: null,
        path: null,
        reply: 'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure',
        mirrors: { 'mirror-a': 'front.example-shadow' },
      }),
  }),
  scenario({
    name: 'malformed and refused requests: HTTP/1.0, a fragment, headers over 60 KiB',
    run: async (t) => {
      const statusLine = (raw: string) => raw.split('\r\n')[0];
      return {
        http10: statusLine(await rawExchange(t.front, 'GET /m/x HTTP/1.0\r\n\r\n', 300)),
        fragment: statusLine(await rawExchange(t.front, 'GET /m/x#frag HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n', 300)),
        garbage: statusLine(await rawExchange(t.front, 'NOT HTTP\r\n\r\n', 300)),
        hugeHeaders: (await send(t.front, '/m/x', { headers: { host: 'a', 'x-big': 'a'.repeat(70 * 1024) } })).status,
      };
    },
    check: (o) => assert.deepEqual(o, { http10: 'HTTP/1.1 426 Upgrade Required', fragment: 'HTTP/1.1 400 Bad Request', garbage: 'HTTP/1.1 400 Bad Request', hugeHeaders: 431 }),
  }),
  scenario({
    name: 'a slow mirror applies no backpressure to the client upload',
    skip:
      'differs on purpose: Envoy 1.40 ties a streaming shadow to the router watermarks; measured with a mirror that accepts and never reads, an 8 MiB POST through Envoy stalls until the client gives up. The built-in data plane drops the copy instead (test/proxy-isolation.test.ts)',
    run: async () => undefined,
    check: () => undefined,
  }),
];

describe('conformance: real Envoy and the built-in data plane on the same resources', () => {
  let envoy: RunningEnvoy | undefined;
  let dataPlane: DataPlane | undefined;
  let dir = '';
  const targets: Target[] = [];

  before(async () => {
    for (const n of BACKENDS) backends[n] = await startBackend(n);
    backends.slow.behaviour = { kind: 'delay', ms: 2000 };
    backends.broken.behaviour = { kind: 'reset' };
    backends.paced.behaviour = { kind: 'delay', ms: 300 };
    backends.queued.behaviour = { kind: 'delay', ms: 100 };
    const ports = { ...(Object.fromEntries(BACKENDS.map((n) => [n, backends[n].port])) as Record<BackendName, number>), dead: await freePort() };
    const engineFront = await freePort();
    const engineEdge = await freePort();
    const engine = await startPlane(withUnreachableClusters(compileYaml(configText(engineFront, engineEdge, ports))));
    dataPlane = engine.plane;
    let engineRuntime: RuntimeValues = { ...STRUCT_RUNTIME };
    engine.plane.setRuntime(engineRuntime);
    targets.push({
      name: 'engine',
      front: engineFront,
      edge: engineEdge,
      async setRuntime(key, value) {
        engineRuntime = { ...engineRuntime, [key]: value };
        engine.plane.setRuntime(engineRuntime);
      },
    });
    const bin = findEnvoy();
    if (!bin) return;
    const envoyFront = await freePort();
    const envoyEdge = await freePort();
    const admin = await freePort();
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-conformance-'));
    const bootstrap = await writeFileXds(withUnreachableClusters(compileYaml(configText(envoyFront, envoyEdge, ports))), dir, admin);
    // The admin layer lets the test set runtime values, as RTDS does in production.
    bootstrap.layered_runtime = {
      layers: [
        { name: 'static', static_layer: STRUCT_RUNTIME },
        { name: 'admin', admin_layer: {} },
      ],
    };
    const file = path.join(dir, 'bootstrap.yaml');
    await writeFile(file, formatDocument(bootstrap, 'yaml'));
    envoy = await startEnvoy(bin, { bootstrapFile: file, adminPort: admin, baseId: 21 });
    targets.unshift({
      name: 'envoy',
      front: envoyFront,
      edge: envoyEdge,
      async setRuntime(key, value) {
        const res = await fetch(`http://127.0.0.1:${admin}/runtime_modify?${key}=${encodeURIComponent(value)}`, { method: 'POST' });
        assert.equal(res.status, 200, await res.text());
      },
    });
    // Wait until the listeners answer (filesystem xDS is applied shortly after /ready).
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ok = await send(envoyFront, '/m/x', { headers: { host: 'a' } }).then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(100);
    }
  });

  after(async () => {
    await envoy?.stop();
    await dataPlane?.close();
    for (const b of Object.values(backends)) await b.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const s of SCENARIOS) {
    it(s.name, { skip: s.skip ?? false }, async (t) => {
      if (!requireEnvoy(t)) return;
      const seen = new Map<string, unknown>();
      for (const target of targets) {
        const o = await s.run(target);
        seen.set(target.name, o);
        try {
          s.check(o);
        } catch (e) {
          if (e instanceof Error) e.message = `[${target.name}] ${e.message}`;
          throw e;
        }
      }
      if (!s.statistical) assert.deepEqual(seen.get('engine'), seen.get('envoy'));
    });
  }
});
