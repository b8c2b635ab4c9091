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

describe("Istio import: the backend protocol, as Istio's protocol selection has it", () => {
  /** A Service `p` with one port 80 (`port`: more keys of it), its endpoint, and a VirtualService on gw sending to it. */
  const withService = (port: string) => ({
    'base.yaml': BASE,
    'p.yaml': `apiVersion: v1
kind: Service
metadata: { name: p }
spec: { ports: [{ port: 80${port} }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: p-1, labels: { kubernetes.io/service-name: p } }
addressType: IPv4
ports: [{ port: 8080${port.includes('name:') ? `, name: ${/name: ([\w-]+)/.exec(port)![1]}` : ''} }]
endpoints: [{ addresses: ["10.0.3.1"] }]
`,
    'vs.yaml': vs(`  - route: [{ destination: { host: p } }]\n`),
  });
  /** A ServiceEntry host e.example on port 80 with `port` (more keys of the port), and a VirtualService on gw sending to it. */
  const withEntry = (port: string) => ({
    'base.yaml': BASE,
    'se.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: e }
spec: { hosts: [e.example], ports: [{ number: 80${port} }], resolution: STATIC, endpoints: [{ address: 10.0.4.1 }] }
`,
    'vs.yaml': vs(`  - route: [{ destination: { host: e.example } }]\n`),
  });
  const http2Of = (files: Record<string, string>): boolean | undefined => {
    const r = importFiles(files);
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(problemLines(r), []);
    const route = r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!;
    return r.config.clusters.find((c) => c.name === route.cluster)!.http2;
  };

  it('a Service port: appProtocol first (kubernetes.io/h2c, http2, grpc, grpc-web), else the name prefix (http2-, grpc-, grpc-web-): HTTP/2; http, an unknown prefix or nothing: HTTP/1.1', () => {
    const cases: Array<[string, boolean | undefined]> = [
      [', appProtocol: kubernetes.io/h2c', true],
      [', appProtocol: HTTP2', true],
      [', appProtocol: grpc', true],
      [', appProtocol: grpc-web', true],
      [', name: http2-api', true],
      [', name: grpc', true],
      [', name: grpc-web-ui', true],
      [', name: http-web', undefined],
      [', name: grpc-api, appProtocol: http', undefined],
      [', appProtocol: kubernetes.io/ws', undefined],
      [', name: web', undefined],
      ['', undefined],
    ];
    for (const [port, http2] of cases) assert.equal(http2Of(withService(port)), http2, port);
  });

  it('a ServiceEntry port: its protocol HTTP2, GRPC or GRPC-WEB is HTTP/2; HTTP, HTTPS or none HTTP/1.1 (its name is not read for it, as in Istio)', () => {
    const cases: Array<[string, boolean | undefined]> = [
      [', name: a, protocol: HTTP2', true],
      [', name: a, protocol: GRPC', true],
      [', name: a, protocol: GRPC-WEB', true],
      [', name: a, protocol: HTTP', undefined],
      [', name: a, protocol: HTTPS', undefined],
      [', name: grpc-a', undefined],
    ];
    for (const [port, http2] of cases) assert.equal(http2Of(withEntry(port)), http2, port);
  });

  it("a Service's TCP port on a port the mesh serves gets no default route, with a warning", () => {
    const r = importFiles(
      {
        'base.yaml': BASE,
        'db.yaml': `apiVersion: v1
kind: Service
metadata: { name: db }
spec: { ports: [{ name: tcp-db, port: 5432 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: db-1, labels: { kubernetes.io/service-name: db } }
addressType: IPv4
ports: [{ name: tcp-db, port: 5432 }]
endpoints: [{ addresses: ["10.0.5.1"] }]
`,
        'vs.yaml': vs(OK).replace('gateways: [gw]', 'gateways: [mesh]').replace('hosts: [web.example]', 'hosts: [web]'),
      },
      { listen: { host: '127.0.0.1', port: 15001 } },
    );
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.ok(
      problemLines(r).some((l) => /^db\.yaml:1:1 Service\/default\/db: warning: no default route for db\.default\.svc\.cluster\.local port 5432: the port name "tcp-db" makes port 5432 .* a TCP port, which Istio does not route as HTTP .* \[SP103\]$/.test(l)),
      problemLines(r).join('\n'),
    );
  });

  itFindsEach([
    [
      'a Service port named tcp-…',
      () => problemLines(importFiles(withService(', name: tcp-db'))),
      /^p\.yaml:4:\d+ Service\/default\/p: spec\.ports\[0\]\.name: the port name "tcp-db" makes port 80 of p\.default\.svc\.cluster\.local a TCP port, which Istio does not route as HTTP \(Istio's protocol selection\); shadowplane routes and mirrors HTTP \[SP014\]$/,
    ],
    [
      'a Service port whose appProtocol is mysql',
      () => problemLines(importFiles(withService(', name: http, appProtocol: mysql'))),
      /^p\.yaml:4:\d+ Service\/default\/p: spec\.ports\[0\]\.appProtocol: appProtocol mysql makes port 80 .* a MYSQL port, .* \[SP014\]$/,
    ],
    [
      'a ServiceEntry port with protocol TCP',
      () => problemLines(importFiles(withEntry(', name: db, protocol: TCP'))),
      /^se\.yaml:4:\d+ ServiceEntry\/default\/e: spec\.ports\[0\]\.protocol: protocol TCP makes port 80 of e\.example a TCP port, .* \[SP014\]$/,
    ],
    [
      'a ServiceEntry port with a protocol Istio does not know',
      () => problemLines(importFiles(withEntry(', name: a, protocol: HTTP3'))),
      /^se\.yaml:4:\d+ ServiceEntry\/default\/e: spec\.ports\[0\]\.protocol: unrecognized protocol name HTTP3 .* \[SP021\]$/,
    ],
  ]);
});

describe('Istio import: a VirtualService host that binds to no Gateway server is reported, not dropped in silence', () => {
  it('a host no server of its Gateway takes, and a match.port no server of it listens on: a warning at the host (IST0132)', () => {
    const gw = BASE.replace('hosts: ["*"]', 'hosts: ["*.example", "ns2/other.test"]');
    const r = importFiles({ 'base.yaml': gw, 'vs.yaml': vs(OK).replace('hosts: [web.example]', 'hosts: [web.example, web.test]') });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(problemLines(r), [
      'vs.yaml:5:24 VirtualService/default/vs: spec.hosts[1]: warning: host web.test gets no route on Gateway default/gw, as in Istio (istioctl analyze: IST0132 VirtualServiceHostNotFoundInGateway): no server of the Gateway takes this host (their hosts: */*.example, ns2/other.test) [SP103]',
    ]);
    const byPort = importFiles({
      'base.yaml': BASE,
      'vs.yaml': vs(`  - match: [{ port: 9999 }]\n    route: [{ destination: { host: web, port: { number: 80 } } }]\n`),
    });
    assert.ok(!byPort.ok);
    assert.ok(
      problemLines(byPort).includes(
        'vs.yaml:5:11 VirtualService/default/vs: spec.hosts[0]: warning: host web.example gets no route on Gateway default/gw, as in Istio (istioctl analyze: IST0132 VirtualServiceHostNotFoundInGateway): no http rule of this VirtualService applies on the ports of the Gateway\'s servers that take it (8080): see each match\'s port and gateways [SP103]',
      ),
      problemLines(byPort).join('\n'),
    );
  });
});

describe("Istio import: DestinationRule policies replace whole blocks, as Istio's merge does", () => {
  const dr = (trafficPolicy: string, subset = '') => ({
    'base.yaml': BASE.replace(/apiVersion: networking\.istio\.io\/v1\nkind: DestinationRule[\s\S]*$/, ''),
    'dr.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy: ${trafficPolicy}
  subsets: [{ name: v1, labels: { version: v1 }${subset} }]
`,
    'vs.yaml': vs(`  - route: [{ destination: { host: web, port: { number: 80 }, subset: v1 } }]\n`),
  });
  const clusterOf = (files: Record<string, string>) => {
    const r = importFiles(files);
    assert.ok(r.ok, problemLines(r).join('\n'));
    const { name: _, endpoints: __, ...rest } = r.config.clusters.find((c) => c.name === 'outbound_80_v1_web.default.svc.cluster.local')!;
    return rest;
  };

  it('port-level settings replace the rule-level ones: a connectTimeout is not inherited by a port that sets only connectionPool.http', () => {
    assert.deepEqual(
      clusterOf(dr('{ connectionPool: { tcp: { connectTimeout: 250ms, maxConnections: 5 } }, portLevelSettings: [{ port: { number: 80 }, connectionPool: { http: { maxRetries: 1 } } }] }')),
      { circuit_breakers: { max_retries: 1 } },
    );
  });

  it('port-level settings without a tls block drop the rule-level TLS (Istio: defaults apply)', () => {
    assert.deepEqual(
      clusterOf(dr('{ tls: { mode: SIMPLE, insecureSkipVerify: true }, portLevelSettings: [{ port: { number: 80 }, connectionPool: { tcp: { maxConnections: 2 } } }] }')),
      { circuit_breakers: { max_connections: 2 } },
    );
  });

  it("a subset's connectionPool replaces the rule's whole; a block the subset does not write is inherited", () => {
    assert.deepEqual(
      clusterOf(dr('{ tls: { mode: SIMPLE, insecureSkipVerify: true }, connectionPool: { tcp: { connectTimeout: 250ms } } }', ', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 7 } } }')),
      { tls: { sni: 'web.default.svc.cluster.local' }, circuit_breakers: { max_requests: 7 } },
    );
  });

  it('an unknown key under portLevelSettings[].port is refused', () => {
    assert.ok(
      problemLines(importFiles(dr('{ portLevelSettings: [{ port: { number: 80, name: x } }] }'))).some((l) => /spec\.trafficPolicy\.portLevelSettings\[0\]\.port\.name: field "name" is not supported .* \[SP014\]$/.test(l)),
    );
  });
});
