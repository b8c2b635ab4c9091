// Istio documents served as they are, through real Envoy and the built-in data plane: seed 003's
// VirtualServices exactly as printed (the cross-cluster mirror at 50% through an ingress Gateway,
// and the mesh mirror between subsets), the external mirror reached by DNS over TLS (a hot edit of
// the ServiceEntry), Istio's default route for a host without a VirtualService, and a table of
// matches, weights, mirrors, rewrites and header changes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { Backends, type Hit } from './helpers/import-requests.js';
import { startImportTargets, type ImportTarget, type ImportTargets, type Ports } from './helpers/import-targets.js';
import { closeServer, listenOnLoopback, runBounded, send } from './helpers/proxy-harness.js';
import { REPO_ROOT } from './helpers/repo.js';
import { assertBinomial } from './helpers/statistics.js';

const example = (name: string, file: string): string => readFileSync(path.join(REPO_ROOT, 'configs/imports/istio', name, file), 'utf8');

const NAMES = ['httpbin-v1', 'httpbin-v2', 'cluster-b', 'myapp-v1', 'myapp-mirror', 'other', 'svc-a', 'svc-b', 'mirror-a', 'mirror-b'] as const;
type Name = (typeof NAMES)[number];

/** One EndpointSlice per pod, each pod's labels in a Pod document. */
function pod(service: string, podName: string, labels: Record<string, string>, port: number): string {
  return `
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${podName}-slice, labels: { kubernetes.io/service-name: ${service} } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"], targetRef: { kind: Pod, name: ${podName} } }]
---
apiVersion: v1
kind: Pod
metadata: { name: ${podName}, labels: ${JSON.stringify(labels)} }`;
}

function service(name: string, port: number): string {
  return `
---
apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec: { ports: [{ name: http, port: ${port}, targetPort: 8080 }] }`;
}

/** The endpoints seed 003 leaves to the cluster, on loopback backends, plus the table's Services. */
function endpoints(b: Backends<Name>): string {
  return [
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: httpbin }
spec: { host: httpbin, subsets: [{ name: v1, labels: { version: v1 } }] }`,
    pod('httpbin', 'httpbin-v1-a', { app: 'httpbin', version: 'v1' }, b.port('httpbin-v1')),
    pod('httpbin', 'httpbin-v2-a', { app: 'httpbin', version: 'v2' }, b.port('httpbin-v2')),
    service('myapp', 8000),
    `
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: myapp }
spec:
  host: myapp.default.svc.cluster.local
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v1-mirroring, labels: { version: v1-mirroring } }]`,
    pod('myapp', 'myapp-v1-a', { app: 'myapp', version: 'v1' }, b.port('myapp-v1')),
    pod('myapp', 'myapp-v1-mirroring-a', { app: 'myapp', version: 'v1-mirroring' }, b.port('myapp-mirror')),
    service('other', 8000),
    pod('other', 'other-a', { app: 'other' }, b.port('other')),
    ...(['svc-a', 'svc-b', 'mirror-a', 'mirror-b'] as const).flatMap((n) => [service(n, 80), pod(n, `${n}-pod`, { app: n }, b.port(n))]),
  ].join('\n');
}

/** Seed 003's ServiceEntry, its placeholder address (cluster B's gateway) being a loopback backend. */
function serviceEntry(b: Backends<Name>): string {
  const text = example('seed-003-cross-cluster', 'httpbin-cluster-b.yaml');
  return text.replace(/- address: 203\.0\.113\.10.*$/m, `- address: 127.0.0.1\n    ports: { http: ${b.port('cluster-b')} }`);
}

/** The external-TLS variant: httpbin.mirror.cluster-b by DNS (here `localhost`) on a TLS backend. */
function tlsServiceEntry(tlsPort: number): string {
  return example('seed-003-external-tls', 'httpbin-cluster-b.yaml')
    .replace('targetPort: 443', `targetPort: ${tlsPort}`)
    .replace('  resolution: DNS', '  resolution: DNS\n  endpoints:\n  - address: localhost');
}

const TABLE = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: table }
spec:
  gateways: [httpbin-gateway]
  hosts: [table.example]
  http:
  - name: exact
    match: [{ uri: { exact: /exact } }]
    headers: { request: { set: { x-rule: exact } } }
    route: [{ destination: { host: svc-a } }]
  - name: ci
    match: [{ uri: { prefix: /CI/ }, ignoreUriCase: true }]
    headers: { request: { set: { x-rule: ci } } }
    route: [{ destination: { host: svc-a } }]
  - name: regex
    match: [{ uri: { regex: "/re/[0-9]+" } }]
    headers: { request: { set: { x-rule: regex } } }
    route: [{ destination: { host: svc-a } }]
  - name: headers
    match: [{ uri: { prefix: /h }, headers: { x-exact: { exact: a }, x-prefix: { prefix: pre }, x-re: { regex: "[0-9]+" }, x-present: {} } }]
    headers: { request: { set: { x-rule: headers } } }
    route: [{ destination: { host: svc-a } }]
  - name: query-method
    match: [{ uri: { prefix: /q }, queryParams: { v: { exact: "1" } }, method: { exact: POST } }]
    headers: { request: { set: { x-rule: query-method } } }
    route: [{ destination: { host: svc-a } }]
  - name: split
    match: [{ uri: { prefix: /split } }]
    route: [{ destination: { host: svc-a }, weight: 25 }, { destination: { host: svc-b }, weight: 75 }]
  - name: mirrors
    match: [{ uri: { prefix: /mirrors } }]
    route: [{ destination: { host: svc-a } }]
    mirrors:
    - destination: { host: mirror-a }
    - destination: { host: mirror-b }
      percentage: { value: 25 }
  - name: rewrite
    match: [{ uri: { prefix: /old } }]
    rewrite: { uri: /new, authority: rewritten.example }
    headers: { request: { add: { x-add: added }, remove: [x-gone] } }
    mirror: { host: mirror-a }
    route: [{ destination: { host: svc-a } }]
  - name: regex-rewrite
    match: [{ uri: { prefix: /rx/ } }]
    rewrite: { uriRegexRewrite: { match: "^/rx/([^/]+)/(.*)$", rewrite: "/\\\\2/\\\\1" } }
    route: [{ destination: { host: svc-a } }]
`;

describe('Istio documents through real Envoy and the built-in data plane', () => {
  let b: Backends<Name>;
  let targets: ImportTargets;
  let tls: Server;
  let tlsPort = 0;
  const tlsSeen: Array<{ sni: string | undefined; host: string; path: string }> = [];

  before(async () => {
    b = await Backends.start(NAMES);
    const dir = mkdtempSync(path.join(tmpdir(), 'shadowplane-istio-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=httpbin.mirror.cluster-b'], { stdio: 'ignore' });
    // No session tickets: a resumed session does not show the client's SNI to the server again, and
    // every connection is to show which name Envoy (or the engine) sent.
    tls = createServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`), secureOptions: constants.SSL_OP_NO_TICKET }, (req, res) => {
      const socket = req.socket as typeof req.socket & { servername?: string | false };
      tlsSeen.push({ sni: socket.servername || undefined, host: req.headers.host ?? '', path: req.url ?? '' });
      req.resume();
      req.on('end', () => res.end('cluster-b over TLS\n'));
    });
    rmSync(dir, { recursive: true, force: true });
    tlsPort = await listenOnLoopback(tls);
    targets = await startImportTargets({
      listeners: ['gateway', 'mesh'],
      baseId: 32,
      load: (p) => ({ listen: { host: '127.0.0.1', port: p.mesh } }),
      files: (p: Ports) => ({
        'httpbin.yaml': example('seed-003-cross-cluster', 'httpbin.yaml'),
        // The seed's Gateway listens on 80: here on a free port, its VirtualService unchanged.
        'httpbin-gateway.yaml': example('seed-003-cross-cluster', 'httpbin-gateway.yaml').replace('number: 80\n      name: http', `number: ${p.gateway}\n      name: http`),
        'httpbin-cluster-b.yaml': serviceEntry(b),
        'virtual-service.yaml': example('seed-003-subsets', 'virtual-service.yaml'),
        'endpoints.yaml': endpoints(b),
        'table.yaml': TABLE,
      }),
    });
  });

  after(async () => {
    await targets?.close();
    await b?.close();
    if (tls) await closeServer(tls);
  });

  const gw = (x: ImportTarget, p: string, host: string, o: { method?: string; headers?: Record<string, string>; copies?: number } = {}): Promise<Hit> =>
    b.hit(x.ports.gateway!, p, { host, ...o });

  it('seed 003 across clusters, as printed: /headers goes to httpbin v1 only; 50% of 2000 requests go to cluster B with Host <host>-shadow', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const one = await gw(x, '/headers', 'gw.example');
        const [v1, v2, mirrored] = [b.count('httpbin-v1'), b.count('httpbin-v2'), b.count('cluster-b')];
        const n = 2000;
        const res = await runBounded(n, 16, () => send(x.ports.gateway!, '/headers', { headers: { host: 'gw.example' } }));
        await new Promise((r) => setTimeout(r, 300));
        const copy = b.all['cluster-b'].received.at(-1);
        return {
          one: { status: one.status, backend: one.backend, timeoutHeader: one.primary?.headers['x-envoy-expected-rq-timeout-ms'] ?? null },
          n,
          ok: res.filter((r) => r.status === 200).length,
          v1: b.count('httpbin-v1') - v1,
          v2: b.count('httpbin-v2') - v2,
          mirrored: b.count('cluster-b') - mirrored,
          copyHost: copy?.host,
          elsewhere: (await gw(x, '/other', 'gw.example')).status,
        };
      },
      (o) => {
        // Istio routes have no timeout: Envoy announces none.
        assert.deepEqual(o.one, { status: 200, backend: 'httpbin-v1', timeoutHeader: null });
        assert.equal(o.ok, o.n);
        assert.equal(o.v1, o.n);
        assert.equal(o.v2, 0, 'subset v1 selects the pods labelled version: v1 only');
        assertBinomial(o.mirrored, o.n, 0.5, 'mirrorPercentage: 50');
        assert.equal(o.copyHost, 'gw.example-shadow');
        assert.equal(o.elsewhere, 404);
      },
      true,
    );
  });

  it('seed 003 in the mesh, as printed: myapp goes to subset v1 and every request is mirrored to v1-mirroring; a host without a VirtualService takes its default route', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const mesh = (host: string) => b.hit(x.ports.mesh!, '/api', { host, copies: host.startsWith('myapp') ? 1 : 0 });
        const short = await mesh('myapp:8000');
        const fqdn = await mesh('myapp.default.svc.cluster.local');
        const other = await mesh('other:8000');
        return {
          short: { backend: short.backend, copies: Object.fromEntries(Object.entries(short.copies).map(([n, r]) => [n, r.host])) },
          fqdn: { backend: fqdn.backend, copies: Object.keys(fqdn.copies) },
          other: { backend: other.backend, copies: Object.keys(other.copies) },
          unknown: (await mesh('nobody:8000')).status,
        };
      },
      (o) =>
        assert.deepEqual(o, {
          short: { backend: 'myapp-v1', copies: { 'myapp-mirror': 'myapp-shadow:8000' } },
          fqdn: { backend: 'myapp-v1', copies: ['myapp-mirror'] },
          other: { backend: 'other', copies: [] },
          unknown: 404,
        }),
    );
  });

  it('VirtualService table: uri exact, prefix with ignoreUriCase, regex; headers (exact, prefix, regex, present); query and method', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const rule = async (p: string, o?: { method?: string; headers?: Record<string, string> }) => {
          const h = await gw(x, p, 'table.example', o);
          return h.primary ? String(h.primary.headers['x-rule'] ?? h.backend) : h.status;
        };
        const all = { 'x-exact': 'a', 'x-prefix': 'prefix', 'x-re': '42', 'x-present': '' };
        return {
          exact: await rule('/exact'),
          exactLonger: await rule('/exact/x'),
          ci: await rule('/ci/Deep'),
          regex: await rule('/re/7'),
          regexPartial: await rule('/re/7x'),
          headers: await rule('/h', { headers: all }),
          headersNoPresent: await rule('/h', { headers: { 'x-exact': 'a', 'x-prefix': 'prefix', 'x-re': '42' } }),
          headersBadRegex: await rule('/h', { headers: { ...all, 'x-re': '4a' } }),
          queryPost: await rule('/q?v=1', { method: 'POST' }),
          queryGet: await rule('/q?v=1'),
        };
      },
      (o) =>
        assert.deepEqual(o, {
          exact: 'exact',
          exactLonger: 404,
          ci: 'ci',
          regex: 'regex',
          regexPartial: 404,
          headers: 'headers',
          headersNoPresent: 404,
          headersBadRegex: 404,
          queryPost: 'query-method',
          queryGet: 404,
        }),
    );
  });

  it('weights 25/75 and mirrors[] each with its own percentage (one random draw for both), over 1000 requests', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const n = 1000;
        const split = await runBounded(n, 16, () => send(x.ports.gateway!, '/split', { headers: { host: 'table.example' } }));
        const [a0, b0] = [b.count('mirror-a'), b.count('mirror-b')];
        await runBounded(n, 16, () => send(x.ports.gateway!, '/mirrors', { headers: { host: 'table.example' } }));
        await new Promise((r) => setTimeout(r, 300));
        return { n, svcA: split.filter((r) => r.headers['x-backend'] === 'svc-a').length, mirrorA: b.count('mirror-a') - a0, mirrorB: b.count('mirror-b') - b0 };
      },
      (o) => {
        assertBinomial(o.svcA, o.n, 0.25, 'weight 25 of 100');
        assert.equal(o.mirrorA, o.n);
        assertBinomial(o.mirrorB, o.n, 0.25, 'percentage 25');
      },
      true,
    );
  });

  it('rewrite uri and authority, uriRegexRewrite, request header changes: the primary and the mirror both see them', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.onEach(
      async (x) => {
        const h = await gw(x, '/old/x?q=1', 'table.example', { headers: { 'x-gone': 'secret' }, copies: 1 });
        const view = (r: Hit['primary']) => r && { path: r.path, host: r.host, add: r.headers['x-add'], gone: r.headers['x-gone'] ?? null };
        return { primary: view(h.primary), copy: view(h.copies['mirror-a']), regex: (await gw(x, '/rx/a/b/c', 'table.example')).primary?.path };
      },
      (o) =>
        assert.deepEqual(o, {
          primary: { path: '/new/x?q=1', host: 'rewritten.example', add: 'added', gone: null },
          copy: { path: '/new/x?q=1', host: 'rewritten.example-shadow', add: 'added', gone: null },
          regex: '/b/c/a',
        }),
    );
  });

  it('the mirror to cluster B by DNS name over TLS (a hot edit of the ServiceEntry, and a DestinationRule originating TLS): the copy arrives with SNI httpbin.mirror.cluster-b', async (t) => {
    if (!requireEnvoy(t)) return;
    await targets.edit('httpbin-cluster-b.yaml', () => tlsServiceEntry(tlsPort));
    await targets.onEach(
      async (x) => {
        // The edit has been applied when copies start arriving over TLS; from then on, every one counts.
        await waitFor('copies over TLS', async () => {
          const before = tlsSeen.length;
          await runBounded(20, 4, () => send(x.ports.gateway!, '/headers/tls', { headers: { host: 'gw.example' } }));
          await new Promise((r) => setTimeout(r, 100));
          return tlsSeen.length > before;
        });
        const start = tlsSeen.length;
        await runBounded(40, 4, () => send(x.ports.gateway!, '/headers/tls', { headers: { host: 'gw.example' } }));
        await new Promise((r) => setTimeout(r, 300));
        const seen = tlsSeen.slice(start);
        return { some: seen.length > 0, seen: [...new Set(seen.map((s) => JSON.stringify(s)))].map((s) => JSON.parse(s) as unknown) };
      },
      (o) => assert.deepEqual(o, { some: true, seen: [{ sni: 'httpbin.mirror.cluster-b', host: 'gw.example-shadow', path: '/headers/tls' }] }),
      true,
    );
  });
});
