// What the Istio import refuses or warns about, each problem at the document's file:line:col with
// the resource and field path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importFiles, itFindsEach, problemLines } from './helpers/import-text.js';

const BASE = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ name: http, port: 80 }, { name: admin, port: 9090 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }, { name: admin, port: 9090 }]
endpoints: [{ addresses: ["10.0.0.1"], targetRef: { kind: Pod, name: web-v1 } }]
---
apiVersion: v1
kind: Pod
metadata: { name: web-v1, labels: { version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;

/** A VirtualService on gw whose first http rule is `rule` (indented as a list item under http). */
function vs(rule: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: [web.example]
  gateways: [gw]${extra}
  http:
${rule}`;
}

const OK = `  - route: [{ destination: { host: web, port: { number: 80 } } }]\n`;

function lines(text: string, more: Record<string, string> = {}): string[] {
  return problemLines(importFiles({ 'base.yaml': BASE, 'vs.yaml': text, ...more }));
}

describe('Istio import: accepted', () => {
  it('a subset by labels, Istio defaults (no route timeout, mirror at 100%, trace unsampled), DNS on IPv4, TLS origination', () => {
    const r = importFiles({
      'base.yaml': BASE,
      'vs.yaml': vs(`  - route: [{ destination: { host: web, port: { number: 80 }, subset: v1 } }]\n    mirror: { host: ext.example.com }\n`),
      'se.yaml': `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: ext }
spec:
  hosts: [ext.example.com]
  ports: [{ number: 443, name: https, protocol: HTTP }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: ext }
spec:
  host: ext.example.com
  trafficPolicy: { tls: { mode: SIMPLE, insecureSkipVerify: true }, connectionPool: { tcp: { connectTimeout: 250ms, maxConnections: 10 } } }
`,
    });
    assert.ok(r.ok, problemLines(r).join('\n'));
    const route = r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!;
    assert.deepEqual(
      { cluster: route.cluster, timeout: route.timeout, mirrors: route.mirrors },
      { cluster: 'outbound_80_v1_web.default.svc.cluster.local', timeout: '0s', mirrors: [{ cluster: 'outbound_443__ext.example.com', trace_sampled: false }] },
    );
    assert.deepEqual(r.config.clusters.find((c) => c.name === 'outbound_443__ext.example.com'), {
      name: 'outbound_443__ext.example.com',
      endpoints: ['ext.example.com:443'],
      type: 'strict_dns',
      dns_lookup_family: 'v4_only',
      connect_timeout: '250ms',
      tls: { sni: 'ext.example.com' },
      circuit_breakers: { max_connections: 10 },
    });
    assert.deepEqual(r.config.listeners.map((l) => [l.name, l.address]), [['istio-gateway.8080', '127.0.0.1:8080']]);
    assert.deepEqual(problemLines(r), []);
  });

  it('warnings: TLS without insecureSkipVerify (not verified), outlier detection (not applied), a header key Istio ignores, a percentage finer than a millionth', () => {
    const r = importFiles({
      'base.yaml': BASE.replace('subsets: [', 'trafficPolicy: { tls: { mode: SIMPLE }, outlierDetection: { consecutive5xxErrors: 3 } }\n  subsets: ['),
      'vs.yaml': vs(`  - match: [{ headers: { uri: { exact: /x } } }]\n    route: [{ destination: { host: web, port: { number: 80 } } }]\n    mirror: { host: web, port: { number: 80 } }\n    mirrorPercentage: { value: 33.3333333 }\n`),
    });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(problemLines(r), [
      "base.yaml:29:33 DestinationRule/default/web: spec.trafficPolicy.tls.mode: warning: TLS SIMPLE: shadowplane does not verify the server's certificate (Istio checks it against the system's CAs); set insecureSkipVerify: true to say that is intended [SP104]",
      'base.yaml:29:43 DestinationRule/default/web: spec.trafficPolicy.outlierDetection: warning: "outlierDetection" is ignored: shadowplane does not eject hosts; every endpoint keeps getting traffic [SP103]',
      'vs.yaml:8:26 VirtualService/default/vs: spec.http[0].match[0].headers.uri: warning: the header key "uri" is ignored, as Istio ignores it (match uri with its own field) [SP103]',
      "vs.yaml:11:32 VirtualService/default/vs: spec.http[0].mirrorPercentage.value: warning: 33.3333333% is mirrored as 33.3333% (Envoy's finest share is one in a million) [SP104]",
    ]);
  });
});

describe('Istio import: refused, each problem where it is written', () => {
  itFindsEach([
    [
      'mirror and mirrors in one http rule (Istio refuses the two together)',
      () => lines(vs(`${OK}    mirror: { host: web, port: { number: 80 } }\n    mirrors: [{ destination: { host: web, port: { number: 80 } } }]\n`)),
      /^vs\.yaml:10:14 VirtualService\/default\/vs: spec\.http\[0\]\.mirrors: HTTP route cannot contain both mirror and mirrors \(Istio refuses it\): give every copy in mirrors\[\] \[SP021\]$/,
    ],
    [
      'a destination host that is neither a Service nor a ServiceEntry host',
      () => lines(vs(`  - route: [{ destination: { host: nowhere } }]\n`)),
      /^vs\.yaml:8:28 VirtualService\/default\/vs: spec\.http\[0\]\.route\[0\]\.destination: BackendNotFound: host nowhere\.default\.svc\.cluster\.local is neither a Kubernetes Service nor a ServiceEntry host \[SP016\]$/,
    ],
    [
      'a subset no DestinationRule defines',
      () => lines(vs(`  - route: [{ destination: { host: web, port: { number: 80 }, subset: v9 } }]\n`)),
      /BackendNotFound: subset "v9" is not defined by a DestinationRule for host web\.default\.svc\.cluster\.local \[SP016\]$/,
    ],
    [
      'a subset whose labels select no endpoint',
      () => lines(vs(`  - route: [{ destination: { host: web, port: { number: 80 }, subset: v2 } }]\n`)),
      /BackendNotFound: subset "v2" \(version=v2\) of host web\.default\.svc\.cluster\.local selects no ready endpoint \[SP016\]$/,
    ],
    [
      'a host with several ports and none named',
      () => lines(vs(`  - route: [{ destination: { host: web } }]\n`)),
      /BackendNotFound: host web\.default\.svc\.cluster\.local has several ports \(80, 9090\): name one in port\.number \[SP016\]$/,
    ],
    [
      'a Gateway that is not there',
      () => lines(vs(OK).replace('gateways: [gw]', 'gateways: [gone]')),
      /^vs\.yaml:6:13 VirtualService\/default\/vs: spec\.gateways: Gateway default\/gone not found .* \[SP019\]$/,
    ],
    [
      'fault injection',
      () => lines(vs(`  - fault: { abort: { httpStatus: 500 } }\n    route: [{ destination: { host: web, port: { number: 80 } } }]\n`)),
      /^vs\.yaml:8:5 VirtualService\/default\/vs: spec\.http\[0\]\.fault: fault: shadowplane forwards and mirrors \[SP014\]$/,
    ],
    [
      'retries (shadowplane makes one attempt)',
      () => lines(vs(`  - retries: { attempts: 3 }\n    route: [{ destination: { host: web, port: { number: 80 } } }]\n`)),
      /spec\.http\[0\]\.retries\.attempts: retries: shadowplane makes one attempt \(set attempts: 0 to say so\) \[SP014\]$/,
    ],
    [
      'withoutHeaders',
      () => lines(vs(`  - match: [{ withoutHeaders: { x: { exact: a } } }]\n    route: [{ destination: { host: web, port: { number: 80 } } }]\n`)),
      /spec\.http\[0\]\.match\[0\]\.withoutHeaders: match on withoutHeaders \[SP014\]$/,
    ],
    [
      'a ServiceEntry without addresses to send to (resolution NONE)',
      () => lines(vs(OK), { 'se.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: se }\nspec: { hosts: [a.example], ports: [{ number: 80, name: http }], resolution: NONE }\n' }),
      /^se\.yaml:4:\d+ ServiceEntry\/default\/se: spec\.resolution: resolution NONE: shadowplane needs addresses .* \[SP014\]$/,
    ],
    [
      'mutual TLS',
      () => lines(vs(OK), { 'dr.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: mtls }\nspec: { host: other, trafficPolicy: { tls: { mode: ISTIO_MUTUAL } } }\n' }),
      /^dr\.yaml:4:\d+ DestinationRule\/default\/mtls: spec\.trafficPolicy\.tls\.mode: TLS mode ISTIO_MUTUAL: .* \[SP014\]$/,
    ],
    [
      'a second DestinationRule for one host',
      () => lines(vs(OK), { 'dr.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: again }\nspec: { host: web.default.svc.cluster.local }\n' }),
      /^dr\.yaml:4:15 DestinationRule\/default\/again: spec\.host: a second DestinationRule for host web\.default\.svc\.cluster\.local \[SP020\]$/,
    ],
    [
      'an HTTPS server',
      () => lines(vs(OK).replace('gateways: [gw]', 'gateways: [tls]'), { 'gw.yaml': 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: tls }\nspec: { servers: [{ port: { number: 443, name: https, protocol: HTTPS }, hosts: ["*"], tls: { mode: SIMPLE } }] }\n' }),
      /^gw\.yaml:4:\d+ Gateway\/default\/tls: spec\.servers\[0\]\.port\.protocol: server protocol HTTPS: shadowplane serves plain HTTP \[SP014\]$/,
    ],
    [
      'a wildcard host for the mesh',
      () => lines(vs(OK).replace('gateways: [gw]', 'gateways: [mesh]').replace('hosts: [web.example]', 'hosts: ["*.example"]')),
      /^vs\.yaml:5:11 VirtualService\/default\/vs: spec\.hosts\[0\]: a wildcard host \(\*\.example\) for the mesh: name the Services \[SP014\]$/,
    ],
    [
      'an apiVersion shadowplane does not read',
      () => lines(vs(OK).replace('networking.istio.io/v1', 'networking.istio.io/v1alpha1')),
      /^vs\.yaml:1:\d+ VirtualService\/default\/vs: apiVersion: networking\.istio\.io\/v1alpha1: shadowplane reads .* \[SP014\]$/,
    ],
  ]);
});
