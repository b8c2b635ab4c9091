// What the Gateway API import refuses or warns about, each problem at the source's file:line:col with
// the resource and field path, and the Gateway API condition and reason it stands for.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { convertedYaml } from '../src/config/formats/converted-yaml.js';
import { loadConfigPath, type LoadResult } from '../src/config/load.js';
import { canonicalResources } from '../src/envoy-api/resource-set.js';
import { buildModel } from '../src/model/build.js';
import { translate } from '../src/translate/resources.js';
import { importFiles, itFindsEach, problemLines } from './helpers/import-text.js';
import { importExamples, REPO_ROOT } from './helpers/repo.js';

const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: eg }
spec:
  gatewayClassName: eg
  listeners:
    - { name: http, protocol: HTTP, port: 8080 }
    - { name: tenant, protocol: HTTP, port: 8080, hostname: "*.tenant.example" }
`;

const SERVICES = `apiVersion: v1
kind: Service
metadata: { name: backend }
spec: { ports: [{ name: http, port: 3000 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, labels: { kubernetes.io/service-name: backend } }
addressType: IPv4
ports: [{ name: http, port: 3000 }]
endpoints: [{ addresses: ["10.0.0.1", "10.0.0.2"] }, { addresses: ["10.0.0.3"], conditions: { ready: false } }]
---
apiVersion: v1
kind: Service
metadata: { name: idle }
spec: { ports: [{ name: http, port: 3000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: shared, namespace: infra }
spec: { ports: [{ port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: shared-1, namespace: infra, labels: { kubernetes.io/service-name: shared } }
addressType: IPv4
ports: [{ port: 8080 }]
endpoints: [{ addresses: ["10.0.1.1"] }]
`;

/** An HTTPRoute on eg with one rule; `rule` is indented as a list item under rules. */
function route(rule: string, meta = 'name: r', extra = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { ${meta} }
spec:
  parentRefs: [{ name: eg, sectionName: http }]
  hostnames: [a.example]${extra}
  rules:
${rule}`;
}

const OK_RULE = `    - backendRefs: [{ name: backend, port: 3000 }]\n`;

function problems(routeText: string, more: Record<string, string> = {}): string[] {
  return problemLines(importFiles({ 'gw.yaml': GATEWAY, 'svc.yaml': SERVICES, 'route.yaml': routeText, ...more }));
}

describe('Gateway API import: accepted', () => {
  it('ready endpoints only, weights, default namespace, a cross-namespace Service allowed by a ReferenceGrant', () => {
    const r = importFiles({
      'gw.yaml': GATEWAY,
      'svc.yaml': SERVICES,
      'route.yaml': route(`    - backendRefs: [{ name: backend, port: 3000, weight: 3 }, { name: shared, namespace: infra, port: 80 }, { name: backend, port: 3000, weight: 0 }]\n`),
      'grant.yaml': `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: allow, namespace: infra }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }]
  to: [{ group: "", kind: Service, name: shared }]
`,
    });
    assert.ok(r.ok, problemLines(r).join('\n'));
    const vh = r.config.listeners[0]!.virtual_hosts;
    assert.deepEqual(vh.map((v) => [v.name, v.domains]), [['a.example', ['a.example', 'a.example:*']]]);
    assert.deepEqual(vh[0]!.routes[0]!.weighted_clusters, [
      { cluster: 'default.backend.3000', weight: 3 },
      { cluster: 'infra.shared.80', weight: 1 },
    ]);
    assert.deepEqual(
      r.config.clusters.map((c) => [c.name, c.endpoints]),
      [
        ['default.backend.3000', ['10.0.0.1:3000', '10.0.0.2:3000']],
        ['infra.shared.80', ['10.0.1.1:8080']],
      ],
    );
    assert.equal(r.config.listeners[0]!.address, '127.0.0.1:8080');
  });

  it("no Gateway among the documents: each Gateway the routes name is implied, as Envoy Gateway's quickstart eg (one HTTP listener on port 80, or --listen-address's port), with a warning", () => {
    const files = { 'svc.yaml': SERVICES, 'route.yaml': route(OK_RULE).replace('[{ name: eg, sectionName: http }]', '[{ name: eg }]') };
    const r = importFiles(files);
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.listeners.map((l) => [l.name, l.address]), [['default.eg.80', '127.0.0.1:80']]);
    assert.deepEqual(problemLines(r), [
      `route.yaml:5:16 HTTPRoute/default/r: spec.parentRefs[0]: warning: Gateway default/eg is not among the documents (none is): its routes are served on an implied Gateway like Envoy Gateway's quickstart, one HTTP listener "http" on 127.0.0.1:80 (--listen-address IP:PORT picks another port) [SP104]`,
    ]);
    const pinned = importFiles(files, { listen: { host: '127.0.0.1', port: 19080 } });
    assert.ok(pinned.ok);
    assert.deepEqual(pinned.config.listeners.map((l) => l.address), ['127.0.0.1:19080']);
    // With a Gateway among the documents, a route naming another one is not attached anywhere.
    assert.match(problems(route(OK_RULE).replace('name: eg,', 'name: other,')).join('\n'), /reason NoMatchingParent: Gateway default\/other not found .*\[SP019\]/);
  });

  it("--listen-address's port does not move a Gateway's own listener: a warning says so", () => {
    const r = importFiles({ 'gw.yaml': GATEWAY, 'svc.yaml': SERVICES, 'route.yaml': route(OK_RULE) }, { listen: { host: '127.0.0.1', port: 19080 } });
    assert.ok(r.ok);
    assert.equal(r.config.listeners[0]!.address, '127.0.0.1:8080');
    assert.deepEqual(problemLines(r), [
      "gw.yaml:7:43 Gateway/default/eg: spec.listeners[0].port: warning: this listener binds its own port, 127.0.0.1:8080: --listen-address's port 19080 is used only for a Gateway the documents do not hold [SP104]",
    ]);
  });

  it("Envoy Gateway's Backend: IP endpoints are static, an FQDN makes it strict_dns", () => {
    const r = importFiles({
      'gw.yaml': GATEWAY,
      'backend.yaml': `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ext }
spec:
  endpoints: [{ fqdn: { hostname: mirror.example.com, port: 443 } }, { ip: { address: 10.1.1.1, port: 8443 } }]
`,
      'route.yaml': route(`    - filters: [{ type: RequestMirror, requestMirror: { backendRef: { group: gateway.envoyproxy.io, kind: Backend, name: ext } } }]\n      backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: ext }]\n`),
    });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.clusters, [{ name: 'backend.default.ext', endpoints: ['mirror.example.com:443', '10.1.1.1:8443'], type: 'strict_dns' }]);
  });

  it('a fraction Envoy cannot express exactly is rounded to the millionth, with a warning', () => {
    const r = importFiles({
      'gw.yaml': GATEWAY,
      'svc.yaml': SERVICES,
      'route.yaml': route(`    - filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: backend, port: 3000 }, fraction: { numerator: 1, denominator: 3 } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`),
    });
    assert.ok(r.ok);
    assert.equal(r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!.mirrors![0]!.percent, 33.3333);
    assert.deepEqual(problemLines(r), [
      "route.yaml:8:110 HTTPRoute/default/r: spec.rules[0].filters[0].requestMirror.fraction: warning: 1/3 is mirrored as 33.3333% (Envoy's finest share is one in a million) [SP104]",
    ]);
  });

  it('a repeated header name in one match: only the first counts (the spec), with a warning', () => {
    const r = importFiles({
      'gw.yaml': GATEWAY,
      'svc.yaml': SERVICES,
      'route.yaml': route(`    - matches: [{ headers: [{ name: X-A, value: "1" }, { name: x-a, value: "2" }] }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`),
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!.match.headers, [{ name: 'x-a', exact: '1' }]);
    assert.match(problemLines(r)[0]!, /route\.yaml:8:\d+ HTTPRoute\/default\/r: spec\.rules\[0\]\.matches\[0\]\.headers\[1\]: warning: header "x-a" is matched by an earlier entry; Gateway API ignores this one \[SP103\]/);
  });
});

describe('Gateway API import: refused, each problem where it is written', () => {
  itFindsEach([
    [
      'a backendRef to a Service that does not exist',
      () => problems(route(`    - backendRefs: [{ name: nope, port: 3000 }]\n`)),
      /^route\.yaml:8:21 HTTPRoute\/default\/r: spec\.rules\[0\]\.backendRefs\[0\]: ResolvedRefs=False, reason BackendNotFound: Service default\/nope not found \[SP016\]$/,
    ],
    [
      'a Service without ready endpoints',
      () => problems(route(`    - backendRefs: [{ name: idle, port: 3000 }]\n`)),
      /BackendNotFound: Service default\/idle port 3000 has no ready endpoints .* \[SP016\]$/,
    ],
    [
      'a port the Service does not have',
      () => problems(route(`    - backendRefs: [{ name: backend, port: 80 }]\n`)),
      /BackendNotFound: Service default\/backend has no port 80 \(it has 3000\) \[SP016\]$/,
    ],
    [
      'a mirror to another namespace without a ReferenceGrant',
      () => problems(route(`    - filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: shared, namespace: infra, port: 80 } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`)),
      /^route\.yaml:8:69 HTTPRoute\/default\/r: spec\.rules\[0\]\.filters\[0\]\.requestMirror\.backendRef: ResolvedRefs=False, reason RefNotPermitted: Service infra\/shared is in another namespace .* \[SP017\]$/,
    ],
    [
      'a backendRef of another kind',
      () => problems(route(`    - backendRefs: [{ group: example.com, kind: Bucket, name: b }]\n`)),
      /spec\.rules\[0\]\.backendRefs\[0\]: ResolvedRefs=False, reason InvalidKind: backendRef kind example\.com\/Bucket is not supported .* \[SP018\]$/,
    ],
    [
      'a parent Gateway that is not there',
      () => problems(route(OK_RULE).replace('name: eg, sectionName: http', 'name: gone')),
      /spec\.parentRefs\[0\]: Accepted=False, reason NoMatchingParent: Gateway default\/gone not found .* \[SP019\]$/,
    ],
    [
      'a sectionName the Gateway does not have',
      () => problems(route(OK_RULE).replace('sectionName: http', 'sectionName: https')),
      /reason NoMatchingParent: Gateway default\/eg has no listener with sectionName "https" \[SP019\]$/,
    ],
    [
      'a route from another namespace on listeners that allow the Same namespace only',
      () => problems(route(OK_RULE, 'name: r, namespace: team').replace('name: eg,', 'name: eg, namespace: default,')),
      /reason NotAllowedByListeners: .* \[SP019\]$/,
    ],
    [
      'hostnames the listener does not share',
      () => problems(route(OK_RULE).replace('sectionName: http', 'sectionName: tenant')),
      /reason NoMatchingListenerHostname: no listener of Gateway default\/eg shares a hostname with this route \[SP019\]$/,
    ],
    [
      'a filter shadowplane does not implement',
      () => problems(route(`    - filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`)),
      /^route\.yaml:8:19 HTTPRoute\/default\/r: spec\.rules\[0\]\.filters\[0\]\.type: filter RequestRedirect: shadowplane supports RequestMirror, RequestHeaderModifier and URLRewrite \(Accepted=False, reason UnsupportedValue\) \[SP014\]$/,
    ],
    [
      "ReplacePrefixMatch in a rule of several PathPrefix matches: Gateway API's HTTPRoute validation refuses it, in its words",
      () =>
        problems(
          route(
            `    - matches: [{ path: { type: PathPrefix, value: /a } }, { path: { type: PathPrefix, value: /b } }]\n      filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`,
          ),
        ),
      /^route\.yaml:9:57 HTTPRoute\/default\/r: spec\.rules\[0\]\.filters\[0\]\.urlRewrite\.path: When using URLRewrite filter with path\.replacePrefixMatch, exactly one PathPrefix match must be specified \(Gateway API's HTTPRoute validation; this rule has 2 matches: give each prefix a rule of its own\) \[SP021\]$/,
    ],
    [
      'ReplacePrefixMatch with an Exact match',
      () =>
        problems(
          route(
            `    - matches: [{ path: { type: Exact, value: /a } }]\n      filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`,
          ),
        ),
      /^route\.yaml:9:57 HTTPRoute\/default\/r: spec\.rules\[0\]\.filters\[0\]\.urlRewrite\.path: When using URLRewrite filter with path\.replacePrefixMatch, exactly one PathPrefix match must be specified \(Gateway API's HTTPRoute validation; this rule's match is not a PathPrefix\) \[SP021\]$/,
    ],
    [
      'a field shadowplane does not read',
      () => problems(route(`    - backendRefs: [{ name: backend, port: 3000 }]\n      sessionPersistence: { type: Cookie }\n`)),
      /^route\.yaml:9:7 HTTPRoute\/default\/r: spec\.rules\[0\]\.sessionPersistence: field "sessionPersistence" is not supported by shadowplane's Gateway API import \(Accepted=False, reason UnsupportedValue\) \[SP014\]$/,
    ],
    [
      'percent and fraction together',
      () => problems(route(`    - filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: backend, port: 3000 }, percent: 5, fraction: { numerator: 1 } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`)),
      /requestMirror: only one of percent or fraction may be specified \[SP021\]$/,
    ],
    [
      'a fraction above one',
      () => problems(route(`    - filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: backend, port: 3000 }, fraction: { numerator: 5, denominator: 4 } } }]\n      backendRefs: [{ name: backend, port: 3000 }]\n`)),
      /fraction\.numerator: numerator 5 is greater than denominator 4 \[SP021\]$/,
    ],
    [
      'a listener that is not plain HTTP',
      () => problemLines(importFiles({ 'gw.yaml': GATEWAY.replace('protocol: HTTP, port: 8080 }', 'protocol: HTTPS, port: 8443 }'), 'svc.yaml': SERVICES, 'route.yaml': route(OK_RULE) })),
      /^gw\.yaml:7:\d+ Gateway\/default\/eg: spec\.listeners\[0\]\.protocol: listener protocol HTTPS: shadowplane serves plain HTTP listeners .* \[SP014\]$/,
    ],
    [
      'a kind no importer reads',
      () => problems(route(OK_RULE), { 'tcp.yaml': 'apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: { name: t }\nspec: {}\n' }),
      /^tcp\.yaml:1:1 TCPRoute\/default\/t: kind TCPRoute of gateway\.networking\.k8s\.io\/v1alpha2 is not one shadowplane reads .* \[SP015\]$/,
    ],
    [
      'an apiVersion shadowplane does not read',
      () => problems(route(OK_RULE).replace('gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1alpha2')),
      /^route\.yaml:1:\d+ HTTPRoute\/default\/r: apiVersion: gateway\.networking\.k8s\.io\/v1alpha2: shadowplane reads .* \[SP014\]$/,
    ],
    [
      'the same HTTPRoute twice',
      () => problems(route(OK_RULE), { 'again.yaml': route(OK_RULE) }),
      /^again\.yaml:1:1 HTTPRoute\/default\/r: HTTPRoute default\/r is defined twice \[SP020\]$/,
    ],
    [
      'two Gateways on one port: the generated listeners clash, reported at the second Gateway',
      () => problems(route(OK_RULE), { 'gw2.yaml': GATEWAY.replace('name: eg }', 'name: eg2 }'), 'route2.yaml': route(OK_RULE, 'name: r2').replace('name: eg,', 'name: eg2,') }),
      /^gw2\.yaml:7:\d+ Gateway\/default\/eg2: spec\.listeners\[0\]\.port: port 8080 is already taken by listeners\[0\] \(in the shadowplane config this becomes: listeners\[1\]\.address\) \[SP006\]$/,
    ],
    [
      'YAML that does not parse',
      () => problems('apiVersion: [oops\n'),
      /^route\.yaml:2:1: .* \[SP001\]$/,
    ],
    [
      'Endpoints instead of EndpointSlices',
      () => problems(route(OK_RULE), { 'ep.yaml': 'apiVersion: v1\nkind: Endpoints\nmetadata: { name: backend }\nsubsets: []\n' }),
      /^ep\.yaml:1:1 Endpoints\/default\/backend: Endpoints \(deprecated in Kubernetes\): give the EndpointSlices instead .* \[SP014\]$/,
    ],
    [
      'a shadowplane config among imported documents',
      () => problems(route(OK_RULE), { 'own.yaml': 'listeners: []\nclusters: []\n' }),
      /^own\.yaml:1:1: a shadowplane config cannot be combined with imported documents.* \[SP015\]$/,
    ],
  ]);

  it('--from another format refuses every document of this one', () => {
    const lines = problemLines(importFiles({ 'gw.yaml': GATEWAY, 'svc.yaml': SERVICES, 'route.yaml': route(OK_RULE) }, { from: 'istio' }));
    assert.deepEqual(
      lines.filter((l) => l.includes('[SP015]')),
      ['gw.yaml:1:1 Gateway/default/eg: this Gateway is gateway-api, not istio (--from istio) [SP015]', 'route.yaml:1:1 HTTPRoute/default/r: this HTTPRoute is gateway-api, not istio (--from istio) [SP015]'],
    );
  });
});

describe("Gateway API import: the backend protocol from a Service port's appProtocol (GEP-1911)", () => {
  /** A Service `h` whose port 3000 says `port` (extra keys of the port) and whose EndpointSlice port says `slicePort`. */
  const svc = (port: string, slicePort = '') => `apiVersion: v1
kind: Service
metadata: { name: h }
spec: { ports: [{ name: http, port: 3000${port} }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: h-1, labels: { kubernetes.io/service-name: h } }
addressType: IPv4
ports: [{ name: http, port: 3000${slicePort} }]
endpoints: [{ addresses: ["10.0.2.1"] }]
`;
  const run = (svcText: string) => importFiles({ 'gw.yaml': GATEWAY, 'h.yaml': svcText, 'route.yaml': route(`    - backendRefs: [{ name: h, port: 3000 }]\n`) });
  const clusterOf = (svcText: string) => {
    const r = run(svcText);
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(problemLines(r), []);
    return r.config.clusters.find((c) => c.name === 'default.h.3000');
  };

  it('kubernetes.io/h2c: HTTP/2 with prior knowledge (http2: true), from the Service port or, without one there, its EndpointSlice', () => {
    assert.deepEqual(clusterOf(svc(', appProtocol: kubernetes.io/h2c')), { name: 'default.h.3000', endpoints: ['10.0.2.1:3000'], http2: true });
    assert.deepEqual(clusterOf(svc('', ', appProtocol: kubernetes.io/h2c')), { name: 'default.h.3000', endpoints: ['10.0.2.1:3000'], http2: true });
  });

  it('http, kubernetes.io/http or none: HTTP/1.1', () => {
    for (const ap of ['', ', appProtocol: http', ', appProtocol: kubernetes.io/http']) {
      assert.deepEqual(clusterOf(svc(ap, ap)), { name: 'default.h.3000', endpoints: ['10.0.2.1:3000'] }, ap);
    }
  });

  itFindsEach([
    [
      'kubernetes.io/ws: ResolvedRefs=False, reason UnsupportedProtocol, at the appProtocol',
      () => problemLines(run(svc(', appProtocol: kubernetes.io/ws'))),
      /^h\.yaml:4:43 Service\/default\/h: spec\.ports\[0\]\.appProtocol: ResolvedRefs=False, reason UnsupportedProtocol: appProtocol kubernetes\.io\/ws of Service default\/h port 3000 \(shadowplane does not proxy WebSocket upgrades\): shadowplane sends HTTP\/1\.1 .* \[SP014\]$/,
    ],
    [
      'kubernetes.io/wss',
      () => problemLines(run(svc(', appProtocol: kubernetes.io/wss'))),
      /spec\.ports\[0\]\.appProtocol: ResolvedRefs=False, reason UnsupportedProtocol: appProtocol kubernetes\.io\/wss .* \[SP014\]$/,
    ],
    [
      'another value (https)',
      () => problemLines(run(svc(', appProtocol: https'))),
      /spec\.ports\[0\]\.appProtocol: ResolvedRefs=False, reason UnsupportedProtocol: appProtocol https of Service default\/h port 3000: .* \[SP014\]$/,
    ],
    [
      "an EndpointSlice port whose appProtocol is not the Service port's",
      () => problemLines(run(svc(', appProtocol: kubernetes.io/h2c', ', appProtocol: http'))),
      /^h\.yaml:10:48 EndpointSlice\/default\/h-1: ports\[0\]\.appProtocol: appProtocol http differs from kubernetes\.io\/h2c, which Service default\/h port 3000 is sent with .* \[SP021\]$/,
    ],
  ]);
});

describe('Gateway API import: v1beta1 Gateway and HTTPRoute read as their v1 form', () => {
  /** What a loaded folder amounts to: the config, the converted YAML (paths made relative to the folder), the Envoy resources, the warnings. */
  const outcome = (r: LoadResult, dir: string) => {
    assert.ok(r.ok, r.ok ? '' : r.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`).join('\n'));
    assert.ok(r.imported);
    return {
      config: r.config,
      converted: convertedYaml(r.imported.config, r.imported.origins, ['the folder']).replaceAll(dir + path.sep, ''),
      resources: canonicalResources(translate(buildModel(r.config))),
      warnings: r.warnings.map((p) => ({ ...p, file: path.relative(dir, p.file) })),
    };
  };

  for (const e of importExamples().filter((x) => x.format === 'gateway-api')) {
    it(`${e.name}: loads, converts and renders the same with every Gateway and HTTPRoute at v1beta1`, async () => {
      const from = path.join(REPO_ROOT, e.dir);
      const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-v1beta1-'));
      try {
        let kinds = 0;
        for (const f of await readdir(from)) {
          const text = await readFile(path.join(from, f), 'utf8');
          const beta = text.replace(/^apiVersion: gateway\.networking\.k8s\.io\/v1\n(kind: (Gateway|HTTPRoute)\n)/gm, (_m, kind: string) => {
            kinds++;
            return `apiVersion: gateway.networking.k8s.io/v1beta1\n${kind}`;
          });
          await writeFile(path.join(dir, f), beta);
        }
        assert.ok(kinds >= 2, `${e.dir}: a Gateway (or an implied one) and an HTTPRoute at v1beta1, got ${kinds} documents`);
        assert.deepEqual(outcome(await loadConfigPath(dir), dir), outcome(await loadConfigPath(from), from));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
