// Gateway API documents served as they are, through real Envoy and the built-in data plane: seed
// 002's HTTPRoutes exactly as printed (each next one a hot edit of the route file), then a table of
// matches, precedence, mirror percentages and filters, each checked against both.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { startImportTargets, type ImportTarget, type ImportTargets, type Ports } from './helpers/import-targets.js';
import { Backends, type Hit } from './helpers/import-requests.js';
import { runBounded, send } from './helpers/proxy-harness.js';
import { REPO_ROOT } from './helpers/repo.js';
import { assertBinomial } from './helpers/statistics.js';

const SEED = path.join(REPO_ROOT, 'configs/imports/gateway-api/seed-002');
const seedFile = (name: string): string => readFileSync(path.join(SEED, name), 'utf8');
const fixture = (name: string): string => readFileSync(path.join(REPO_ROOT, 'test/fixtures/seed-002', name), 'utf8');

const NAMES = ['backend', 'backend-2', 'backend-3', 'svc-a', 'svc-b', 'mirror-a', 'mirror-b'] as const;
type Name = (typeof NAMES)[number];

function gateway(p: Ports): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: eg }
spec:
  gatewayClassName: eg
  listeners:
    - { name: http, protocol: HTTP, port: ${p.gateway} }
    - { name: tenant, protocol: HTTP, port: ${p.gateway}, hostname: "*.tenant.example", allowedRoutes: { namespaces: { from: All } } }
`;
}

/** Services besides seed 002's own backend-2, and an EndpointSlice on a loopback backend for each. */
function services(b: Backends<Name>): string {
  const svc = (n: Name) => `
---
apiVersion: v1
kind: Service
metadata: { name: ${n} }
spec: { ports: [{ name: http, port: ${n.startsWith('backend') ? 3000 : 80}, targetPort: 8080 }], selector: { app: ${n} } }`;
  const slice = (n: Name) => `
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${n}-x1, labels: { kubernetes.io/service-name: ${n} } }
addressType: IPv4
ports: [{ name: http, port: ${b.port(n)} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]`;
  return [...NAMES.filter((n) => n !== 'backend-2').map(svc), ...NAMES.map(slice)].join('\n');
}

/** A rule that tags what it matched in `x-rule`, forwarding to svc-a unless told. */
function rule(tag: string, matches: string, extra = '', backend = 'svc-a'): string {
  return `
    - matches: ${matches}
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: ${tag} }] } }${extra}]
      backendRefs: [{ name: ${backend}, port: 80 }]`;
}

function route(name: string, hostnames: string, rules: string[], meta = '', parent = '{ name: eg, sectionName: http }'): string {
  return `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}${meta} }
spec:
  parentRefs: [${parent}]
  hostnames: ${hostnames}
  rules:${rules.join('')}`;
}

const prefix = (v: string, more = '') => `[{ path: { type: PathPrefix, value: ${v} }${more} }]`;

const CASES = [
  route('matches', '[match.example]', [
    rule('exact', '[{ path: { type: Exact, value: /exact } }]'),
    rule('prefix', prefix('/abc/')),
    rule('regex', '[{ path: { type: RegularExpression, value: "/re/[0-9]+" } }]'),
    rule('header', prefix('/h', ', headers: [{ name: X-Env, value: canary }]')),
    rule('query', prefix('/q', ', queryParams: [{ name: v, value: "1" }]')),
    rule('method', prefix('/m', ', method: POST')),
    rule('root', '[]'),
  ]),
  route('b-route', '[prec.example]', [
    rule('b-short', prefix('/p')),
    rule('b-longer', prefix('/p/longer')),
    rule('b-exact', '[{ path: { type: Exact, value: /p/exact } }]'),
    rule('b-same', prefix('/same')),
    rule('b-nomethod', prefix('/meth')),
    rule('b-method', prefix('/meth', ', method: GET')),
    rule('b-1hdr', prefix('/hdr', ', headers: [{ name: x-a, value: "1" }]')),
    rule('b-1q', prefix('/qry', ', queryParams: [{ name: a, value: "1" }]')),
  ], ', creationTimestamp: "2024-01-02T00:00:00Z"'),
  route('a-route', '[prec.example]', [
    rule('a-same', prefix('/same')),
    rule('a-2hdr', prefix('/hdr', ', headers: [{ name: x-a, value: "1" }, { name: x-b, value: "1" }]')),
    rule('a-2q', prefix('/qry', ', queryParams: [{ name: a, value: "1" }, { name: b, value: "2" }]')),
    rule('a-regex', '[{ path: { type: RegularExpression, value: "/p/re[0-9]+" } }]'),
  ], ', creationTimestamp: "2024-01-01T00:00:00Z"'),
  route('z-route', '[alpha.example]', [rule('z', prefix('/'))]),
  route('y-route', '[alpha.example]', [rule('y', prefix('/'))]),
  route('percent', '[pct.example]', [
    rule('half', prefix('/half'), ', { type: RequestMirror, requestMirror: { backendRef: { name: mirror-a, port: 80 }, percent: 50 } }'),
    rule('quarter', prefix('/quarter'), ', { type: RequestMirror, requestMirror: { backendRef: { name: mirror-b, port: 80 }, fraction: { numerator: 1, denominator: 4 } } }'),
    rule(
      'both',
      prefix('/both'),
      ', { type: RequestMirror, requestMirror: { backendRef: { name: mirror-a, port: 80 } } }, { type: RequestMirror, requestMirror: { backendRef: { name: mirror-b, port: 80 }, fraction: { numerator: 50 } } }',
    ),
  ]),
  route('filters', '[filters.example]', [
    `
    - matches: ${prefix('/mod')}
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Set, value: set }], add: [{ name: x-add, value: added }], remove: [X-Gone] }
        - { type: RequestMirror, requestMirror: { backendRef: { name: mirror-a, port: 80 } } }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: ${prefix('/full')}
      filters:
        - { type: URLRewrite, urlRewrite: { hostname: rewritten.example, path: { type: ReplaceFullPath, replaceFullPath: /replaced } } }
        - { type: RequestMirror, requestMirror: { backendRef: { name: mirror-a, port: 80 } } }
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: ${prefix('/pre')}
      filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /xyz/ } } }]
      backendRefs: [{ name: svc-a, port: 80 }]
    - matches: ${prefix('/strip/')}
      filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: "" } } }]
      backendRefs: [{ name: svc-a, port: 80 }]`,
  ]),
  route('tenant', '[]', [rule('tenant', prefix('/'), '', 'svc-b')], '', '{ name: eg, sectionName: tenant }'),
].join('\n');

describe('Gateway API documents through real Envoy and the built-in data plane', () => {
  let b: Backends<Name>;
  let targets: ImportTargets;

  before(async () => {
    b = await Backends.start(NAMES);
    targets = await startImportTargets({
      listeners: ['gateway'],
      baseId: 31,
      files: (p) => ({
        'gateway.yaml': gateway(p),
        'httproute.yaml': seedFile('httproute.yaml'),
        'backend-2.yaml': seedFile('backend-2.yaml'),
        'services.yaml': services(b),
        'cases.yaml': CASES,
      }),
    });
  });

  after(async () => {
    await targets?.close();
    await b?.close();
  });

  const hit = (x: ImportTarget, p: string, host: string, o: { method?: string; headers?: Record<string, string>; copies?: number } = {}): Promise<Hit> =>
    b.hit(x.ports.gateway!, p, { host, ...o });
  const ruleOf = (h: Hit): string => (h.primary ? `${h.backend} ${String(h.primary.headers['x-rule'] ?? '')}`.trim() : String(h.status));

  it("seed 002, exactly as printed: backends.example goes to backend, and every request is mirrored to backend-2 with Host backends.example-shadow", async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const h = await hit(x, '/get', 'backends.example', { copies: 1 });
        const withPort = await hit(x, '/get', `backends.example:${x.ports.gateway}`, { copies: 1 });
        return {
          status: h.status,
          backend: h.backend,
          copy: h.copies['backend-2'] && { path: h.copies['backend-2'].path, host: h.copies['backend-2'].host },
          // A port in the Host is ignored for matching, as Gateway API hostnames have none.
          withPort: { backend: withPort.backend, copyHost: withPort.copies['backend-2']?.host.replace(String(x.ports.gateway), 'PORT') },
          otherHost: (await hit(x, '/get', 'other.example')).status,
        };
      },
      (o) =>
        assert.deepEqual(o, {
          status: 200,
          backend: 'backend',
          copy: { path: '/get', host: 'backends.example-shadow' },
          withPort: { backend: 'backend', copyHost: 'backends.example-shadow:PORT' },
          otherHost: 404,
        }),
    );
  });

  it("seed 002's second HTTPRoute (a hot edit of the route file): split between backend and backend-3 (weight 1 each), all mirrored to backend-2", async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.edit('httproute.yaml', () => fixture('httproute-split.yaml'));
    await targets.onEach(
      async (x) => {
        await waitFor('backend-3 in the split', async () => (await hit(x, '/split', 'backends.example')).backend === 'backend-3');
        const n = 1000;
        const mirroredBefore = b.count('backend-2');
        const res = await runBounded(n, 16, () => send(x.ports.gateway!, '/split', { headers: { host: 'backends.example' } }));
        await waitFor('every copy arrived', () => b.count('backend-2') - mirroredBefore >= n);
        return { n, ok: res.filter((r) => r.status === 200).length, backend3: res.filter((r) => r.headers['x-backend'] === 'backend-3').length, mirrored: b.count('backend-2') - mirroredBefore };
      },
      (o) => {
        assert.equal(o.ok, o.n);
        assert.equal(o.mirrored, o.n);
        assertBinomial(o.backend3, o.n, 0.5, 'backend-3 share');
      },
      true,
    );
  });

  it("seed 002's third HTTPRoute: two RequestMirror filters in one rule (Gateway API v1.3 allows it), both get every request", async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.edit('httproute.yaml', () => fixture('httproute-two-mirrors.yaml'));
    await targets.onEach(
      async (x) => {
        await waitFor('two mirrors', async () => Object.keys((await hit(x, '/two', 'backends.example', { copies: 2 })).copies).length === 2);
        const h = await hit(x, '/two', 'backends.example', { copies: 2 });
        return { backend: h.backend, copies: Object.fromEntries(Object.entries(h.copies).map(([n, r]) => [n, r.host])) };
      },
      (o) => assert.deepEqual(o, { backend: 'backend', copies: { 'backend-2': 'backends.example-shadow', 'backend-3': 'backends.example-shadow' } }),
    );
  });

  it('matches: Exact, PathPrefix on whole path elements (trailing "/" ignored), RegularExpression, header (name case-insensitive, value exact), query, method', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const out: Record<string, string> = {};
        const cases: Array<[string, string, { method?: string; headers?: Record<string, string> }?]> = [
          ['/exact', '/exact'],
          ['/exact/', '/exact/'],
          ['/abc', '/abc'],
          ['/abc/', '/abc/'],
          ['/abc/def', '/abc/def'],
          ['/abcd', '/abcd'],
          ['/re/42', '/re/42'],
          ['/re/42a', '/re/42a'],
          ['/h x-env: canary', '/h', { headers: { 'x-env': 'canary' } }],
          ['/h X-ENV: canary', '/h', { headers: { 'X-ENV': 'canary' } }],
          ['/h x-env: Canary', '/h', { headers: { 'x-env': 'Canary' } }],
          ['/q?v=1', '/q?v=1'],
          ['/q?v=2', '/q?v=2'],
          ['POST /m', '/m', { method: 'POST' }],
          ['GET /m', '/m'],
        ];
        for (const [label, p, o] of cases) out[label] = ruleOf(await hit(x, p, 'match.example', o));
        return out;
      },
      (o) =>
        assert.deepEqual(o, {
          '/exact': 'svc-a exact',
          '/exact/': 'svc-a root',
          '/abc': 'svc-a prefix',
          '/abc/': 'svc-a prefix',
          '/abc/def': 'svc-a prefix',
          '/abcd': 'svc-a root',
          '/re/42': 'svc-a regex',
          '/re/42a': 'svc-a root',
          '/h x-env: canary': 'svc-a header',
          '/h X-ENV: canary': 'svc-a header',
          '/h x-env: Canary': 'svc-a root',
          '/q?v=1': 'svc-a query',
          '/q?v=2': 'svc-a root',
          'POST /m': 'svc-a method',
          'GET /m': 'svc-a root',
        }),
    );
  });

  it('precedence across rules and routes: Exact, RegularExpression, longest prefix, method, most headers, most query params, oldest route, then namespace/name', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const get = async (p: string, o?: { method?: string; headers?: Record<string, string> }, host = 'prec.example') => ruleOf(await hit(x, p, host, o));
        return {
          exact: await get('/p/exact'),
          regex: await get('/p/re7'),
          longer: await get('/p/longer/x'),
          short: await get('/p/other'),
          older: await get('/same'),
          method: await get('/meth'),
          noMethod: await get('/meth', { method: 'POST' }),
          twoHeaders: await get('/hdr', { headers: { 'x-a': '1', 'x-b': '1' } }),
          oneHeader: await get('/hdr', { headers: { 'x-a': '1' } }),
          twoParams: await get('/qry?a=1&b=2'),
          oneParam: await get('/qry?a=1'),
          alphabetical: await get('/', undefined, 'alpha.example'),
        };
      },
      (o) =>
        assert.deepEqual(o, {
          exact: 'svc-a b-exact',
          regex: 'svc-a a-regex',
          longer: 'svc-a b-longer',
          short: 'svc-a b-short',
          older: 'svc-a a-same',
          method: 'svc-a b-method',
          noMethod: 'svc-a b-nomethod',
          twoHeaders: 'svc-a a-2hdr',
          oneHeader: 'svc-a b-1hdr',
          twoParams: 'svc-a a-2q',
          oneParam: 'svc-a b-1q',
          alphabetical: 'svc-a y',
        }),
    );
  });

  it('a listener with a hostname (sectionName): a route without hostnames serves that hostname only', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => ({ tenant: ruleOf(await hit(x, '/x', 'a.tenant.example')), deeper: ruleOf(await hit(x, '/x', 'a.b.tenant.example')), other: (await hit(x, '/x', 'tenant.example')).status }),
      (o) => assert.deepEqual(o, { tenant: 'svc-b tenant', deeper: 'svc-b tenant', other: 404 }),
    );
  });

  it('RequestMirror percent 50 over 2000 requests, fraction 1/4, and two mirrors (100% and 50/100) sharing one random draw', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const count = async (p: string, n: number): Promise<{ a: number; b: number }> => {
          const [a0, b0] = [b.count('mirror-a'), b.count('mirror-b')];
          const res = await runBounded(n, 16, () => send(x.ports.gateway!, p, { headers: { host: 'pct.example' } }));
          assert.ok(res.every((r) => r.status === 200));
          await new Promise((r) => setTimeout(r, 300));
          return { a: b.count('mirror-a') - a0, b: b.count('mirror-b') - b0 };
        };
        return { half: await count('/half', 2000), quarter: await count('/quarter', 1000), both: await count('/both', 1000) };
      },
      (o) => {
        assertBinomial(o.half.a, 2000, 0.5, 'percent: 50');
        assert.equal(o.half.b, 0);
        assertBinomial(o.quarter.b, 1000, 0.25, 'fraction 1/4');
        assert.equal(o.both.a, 1000);
        assertBinomial(o.both.b, 1000, 0.5, 'fraction 50/100');
      },
      true,
    );
  });

  it('RequestHeaderModifier and URLRewrite apply to the primary, and the mirror copies the rewritten request', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const mod = await hit(x, '/mod', 'filters.example', { headers: { 'x-set': 'old', 'x-add': 'first', 'x-gone': 'secret' }, copies: 1 });
        const pick = (r: Hit['primary']) => r?.rawHeaders.filter(([k]) => ['x-set', 'x-add', 'x-gone'].includes(k));
        const full = await hit(x, '/full/any/thing?q=1', 'filters.example', { copies: 1 });
        const path = async (p: string) => (await hit(x, p, 'filters.example')).primary?.path ?? null;
        return {
          mod: { primary: pick(mod.primary), copy: pick(mod.copies['mirror-a']) },
          full: { path: full.primary?.path, host: full.primary?.host, copyPath: full.copies['mirror-a']?.path, copyHost: full.copies['mirror-a']?.host },
          prefix: { '/pre': await path('/pre'), '/pre/': await path('/pre/'), '/pre/foo/bar': await path('/pre/foo/bar'), '/prefix': await path('/prefix') },
          strip: { '/strip': await path('/strip'), '/strip/': await path('/strip/'), '/strip/bar': await path('/strip/bar') },
        };
      },
      (o) =>
        assert.deepEqual(o, {
          mod: { primary: [['x-add', 'first'], ['x-set', 'set'], ['x-add', 'added']], copy: [['x-add', 'first'], ['x-set', 'set'], ['x-add', 'added']] },
          full: { path: '/replaced?q=1', host: 'rewritten.example', copyPath: '/replaced?q=1', copyHost: 'rewritten.example-shadow' },
          // Gateway API's ReplacePrefixMatch table: /foo → /xyz, /foo/ → /xyz/, /foo/bar → /xyz/bar; "" → /bar, /, /.
          prefix: { '/pre': '/xyz', '/pre/': '/xyz/', '/pre/foo/bar': '/xyz/foo/bar', '/prefix': null },
          strip: { '/strip': '/', '/strip/': '/', '/strip/bar': '/bar' },
        }),
    );
  });
});

describe("seed 002's HTTPRoute without its Gateway: the Gateway eg it names is implied, as Envoy Gateway's quickstart has it", () => {
  it('backends.example goes to backend on the --listen-address port, every request mirrored to backend-2 with Host backends.example-shadow', async (t) => {
    if (!requireEnvoy(t)) return;
    const b = await Backends.start(NAMES);
    const targets = await startImportTargets({
      listeners: ['gateway'],
      baseId: 34,
      // The implied Gateway's one HTTP listener binds --listen-address, whose port replaces the quickstart's 80.
      load: (p) => ({ listen: { host: '127.0.0.1', port: p.gateway } }),
      files: () => ({ 'httproute.yaml': seedFile('httproute.yaml'), 'backend-2.yaml': seedFile('backend-2.yaml'), 'services.yaml': services(b) }),
    }).catch(async (e: unknown) => {
      await b.close();
      throw e;
    });
    try {
      await targets.onEach(
        async (x) => {
          const h = await b.hit(x.ports.gateway!, '/get', { host: 'backends.example', copies: 1 });
          const warnings = (x.cp.controlPlane.lastAccepted?.problems ?? []).filter((w) => w.endsWith('[SP104]')).map((w) => w.slice(w.indexOf('warning: ') + 'warning: '.length));
          return { status: h.status, backend: h.backend, copy: h.copies['backend-2'] && { path: h.copies['backend-2'].path, host: h.copies['backend-2'].host }, warnings: warnings.map((w) => w.replace(String(x.ports.gateway), 'PORT')) };
        },
        (o) =>
          assert.deepEqual(o, {
            status: 200,
            backend: 'backend',
            copy: { path: '/get', host: 'backends.example-shadow' },
            warnings: [
              `Gateway default/eg is not among the documents (none is): its routes are served on an implied Gateway like Envoy Gateway's quickstart, one HTTP listener "http" on 127.0.0.1:PORT (the port --listen-address gives) [SP104]`,
            ],
          }),
      );
    } finally {
      await targets.close();
      await b.close();
    }
  });
});
