// The compiler as tables: config fragments in, Envoy resources (as Envoy receives them) out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalResources, type ResourceSet } from '../src/envoy-api/resource-set.js';
import { parseConfig } from '../src/config/load.js';
import { canonicalize, encodeTyped, type JsonObject, type TypedJson } from '../src/envoy-api/proto-json.js';
import { buildModel } from '../src/model/build.js';
import { fractionFromPercent, normalizeFraction } from '../src/model/fraction.js';
import type { Model } from '../src/model/types.js';
import { mirrorPathName } from '../src/translate/mirror-policy.js';
import { translate } from '../src/translate/resources.js';

function compile(text: string): Model {
  const r = parseConfig(text, 'test.yaml');
  if (!r.ok) assert.fail(r.problems.map((p) => p.message).join('\n'));
  return buildModel(r.config);
}

const CLUSTERS = ['a', 'b', 'm1', 'm2', 'm3'].map((n, i) => `  - { name: ${n}, endpoints: ["127.0.0.1:${9000 + i}"] }`).join('\n');

function withRoutes(routes: string, vhostExtra = '', listenerExtra = ''): string {
  return `listeners:
  - name: front
    address: 0.0.0.0:10000
${listenerExtra}    virtual_hosts:
      - name: v
        domains: ["*"]
${vhostExtra}        routes:
${routes}
clusters:
${CLUSTERS}
`;
}

function routeConfig(model: Model): JsonObject {
  return canonicalize(translate(model).routes[0]!) as JsonObject;
}

type RouteJson = { name: string; match: JsonObject; route: JsonObject & { request_mirror_policies?: JsonObject[] } };
function vhostRoutes(model: Model): RouteJson[] {
  const rc = routeConfig(model) as unknown as { virtual_hosts: Array<{ routes: RouteJson[] }> };
  return rc.virtual_hosts[0]!.routes;
}

describe('mirror percent → smallest exact FractionalPercent', () => {
  const cases: Array<[number, string]> = [
    [100, '100/HUNDRED'],
    [50, '50/HUNDRED'],
    [0, '0/HUNDRED'],
    [12.5, '1250/TEN_THOUSAND'],
    [0.01, '1/TEN_THOUSAND'],
    [0.0001, '1/MILLION'],
    [33.3333, '333333/MILLION'],
  ];
  for (const [percent, expected] of cases) {
    it(`${percent}% → ${expected}`, () => {
      const f = fractionFromPercent(percent);
      assert.equal(`${f.numerator}/${f.denominator}`, expected);
    });
  }
  it("seed 003's 500000/MILLION is accepted and normalized to 50/HUNDRED", () => {
    assert.deepEqual(normalizeFraction({ numerator: 500000, denominator: 'MILLION' }), { numerator: 50, denominator: 'HUNDRED' });
  });
});

describe('RequestMirrorPolicy fields', () => {
  it('compiles every mirror option to its Envoy field', () => {
    const model = compile(
      withRoutes(`          - name: r
            match: { prefix: / }
            cluster: a
            mirrors:
              - cluster: m1
                percent: 0.01
                runtime_key: ops.mirror.r
                trace_sampled: true
                shadow_host_suffix: false
                host_rewrite: shadow.internal
                headers:
                  add: { x-a: "1" }
                  set: [{ name: X-B, value: "2" }]
                  remove: [x-c]`),
    );
    assert.deepEqual(vhostRoutes(model)[0]!.route.request_mirror_policies, [
      {
        cluster: 'm1',
        runtime_fraction: { default_value: { numerator: 1, denominator: 'TEN_THOUSAND' }, runtime_key: 'ops.mirror.r' },
        trace_sampled: true,
        disable_shadow_host_suffix_append: true,
        request_headers_mutations: [
          { append: { header: { key: 'x-a', value: '1' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' } },
          { append: { header: { key: 'x-b', value: '2' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } },
          { remove: 'x-c' },
        ],
        host_rewrite_literal: 'shadow.internal',
      },
    ]);
    assert.equal(model.minEnvoyVersion, '1.36.0');
    assert.deepEqual(
      model.features.map((f) => `${f.feature}@${f.minEnvoyVersion} ${f.where}`),
      [
        'RequestMirrorPolicy.request_headers_mutations@1.36.0 listeners[0].virtual_hosts[0].routes[0].mirrors[0]',
        'RequestMirrorPolicy.host_rewrite_literal@1.36.0 listeners[0].virtual_hosts[0].routes[0].mirrors[0]',
      ],
    );
  });

  it('defaults: 100%, a runtime key built from names, the -shadow suffix kept, no version-gated field', () => {
    const model = compile(withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1 }] }`));
    assert.deepEqual(vhostRoutes(model)[0]!.route.request_mirror_policies, [
      {
        cluster: 'm1',
        runtime_fraction: { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'shadowplane.mirror.front.v.r.m1' },
      },
    ]);
    assert.equal(model.minEnvoyVersion, undefined);
  });

  it('a route name is free text (Envoy only labels the route with it); its default runtime key keeps to plain characters', () => {
    const model = compile(withRoutes(`          - { name: "<img src=x onerror=alert(1)>", match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1 }] }`));
    const route = vhostRoutes(model)[0]!;
    assert.equal(route.name, '<img src=x onerror=alert(1)>');
    assert.equal((route.route.request_mirror_policies as Array<{ runtime_fraction: { runtime_key: string } }>)[0]!.runtime_fraction.runtime_key, 'shadowplane.mirror.front.v._img_src_x_onerror_alert_1__.m1');
  });
});

describe('header-selected mirrors: Envoy enforces the allowlist through route variants', () => {
  it('one allowlisted header: a variant per allowed value that mirrors to it as a fixed cluster, then the route without the policy', () => {
    const model = compile(
      withRoutes(`          - name: r
            match: { prefix: /s, headers: [{ name: x-env, exact: prod }] }
            cluster: a
            mirrors:
              - { cluster: m3 }
              - { cluster_header: x-mirror-cluster, allowed_clusters: [m1, m2] }`),
    );
    const routes = vhostRoutes(model);
    const env = { name: 'x-env', string_match: { exact: 'prod' } };
    assert.deepEqual(
      routes.map((r) => [r.name, r.match, (r.route.request_mirror_policies ?? []).map((p) => p.cluster ?? `header:${String(p.cluster_header)}`)]),
      [
        ['r/mirror:x-mirror-cluster=m1', { prefix: '/s', headers: [env, { name: 'x-mirror-cluster', string_match: { exact: 'm1' } }] }, ['m3', 'm1']],
        ['r/mirror:x-mirror-cluster=m2', { prefix: '/s', headers: [env, { name: 'x-mirror-cluster', string_match: { exact: 'm2' } }] }, ['m3', 'm2']],
        ['r', { prefix: '/s', headers: [env] }, ['m3']],
      ],
    );
    // The pinned policy keeps the header policy's runtime key, so one override still steers it.
    assert.equal(
      (routes[0]!.route.request_mirror_policies![1]!.runtime_fraction as JsonObject).runtime_key,
      'shadowplane.mirror.front.v.r.header-x-mirror-cluster',
    );
  });

  it('two allowlisted headers: every combination of allowed values, most headers first', () => {
    const model = compile(
      withRoutes(`          - name: r
            match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster_header: x-one, allowed_clusters: [m1] }
              - { cluster_header: x-two, allowed_clusters: [m2, m3] }`),
    );
    assert.deepEqual(
      vhostRoutes(model).map((r) => r.name),
      ['r/mirror:x-one=m1/mirror:x-two=m2', 'r/mirror:x-one=m1/mirror:x-two=m3', 'r/mirror:x-one=m1', 'r/mirror:x-two=m2', 'r/mirror:x-two=m3', 'r'],
    );
  });

  it('a header mirror without an allowlist stays a plain cluster_header policy (as in seed 000)', () => {
    const model = compile(withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster_header: x-mirror-cluster }] }`));
    const routes = vhostRoutes(model);
    assert.equal(routes.length, 1);
    assert.equal(routes[0]!.route.request_mirror_policies![0]!.cluster_header, 'x-mirror-cluster');
  });
});

describe('mirror precedence levels', () => {
  it('virtual host and listener mirrors compile to their own levels', () => {
    const model = compile(
      withRoutes(
        `          - { name: r, match: { prefix: / }, cluster: a }`,
        `        mirrors: [{ cluster: m1 }]\n`,
        `    mirrors: [{ cluster: m2, percent: 5 }]\n`,
      ),
    );
    const rc = routeConfig(model) as { request_mirror_policies: JsonObject[]; virtual_hosts: Array<{ request_mirror_policies: JsonObject[] }> };
    assert.equal(rc.request_mirror_policies[0]!.cluster, 'm2');
    assert.equal(rc.virtual_hosts[0]!.request_mirror_policies[0]!.cluster, 'm1');
    assert.equal(vhostRoutes(model)[0]!.route.request_mirror_policies, undefined);
  });

  it('an allowlisted list at virtual-host level is pushed down to the routes that inherit it', () => {
    const model = compile(
      withRoutes(
        `          - { name: inherits, match: { prefix: /i }, cluster: a }
          - { name: own, match: { prefix: /o }, cluster: a, mirrors: [{ cluster: m3 }] }`,
        `        mirrors: [{ cluster_header: x-m, allowed_clusters: [m1] }]\n`,
      ),
    );
    const rc = routeConfig(model) as { virtual_hosts: Array<{ request_mirror_policies?: unknown }> };
    assert.equal(rc.virtual_hosts[0]!.request_mirror_policies, undefined);
    assert.deepEqual(
      vhostRoutes(model).map((r) => [r.name, (r.route.request_mirror_policies ?? []).map((p) => p.cluster ?? p.cluster_header)]),
      [
        ['inherits/mirror:x-m=m1', ['m1']],
        ['inherits', []],
        ['own', ['m3']],
      ],
    );
  });
});

describe('mirror response comparison', () => {
  const model = compile(
    withRoutes(
      `          - name: r
            match: { prefix: /r }
            cluster: a
            mirrors:
              - { cluster: m2, compare: { headers: [Content-Type, X-Version], ignore_json_paths: ["$.id", "$.items[*].etag"], max_body_bytes: 1024 } }
              - { cluster: m1, compare: {} }
              - { cluster: m3 }
          - name: inherits
            match: { prefix: / }
            cluster: b`,
      `        mirrors: [{ cluster: m1, runtime_key: vh.m1, compare: { max_body_bytes: 0 } }]\n`,
    ),
  );

  it('resolves the defaults in the model: content-type, no ignored paths, 64 KiB; off without compare', () => {
    const [m2, m1, m3] = model.listeners[0]!.virtualHosts[0]!.routes[0]!.mirrors;
    assert.deepEqual(m1!.compare, { headers: ['content-type'], ignoreJsonPaths: [], maxBodyBytes: 65536 });
    assert.deepEqual(m2!.compare, { headers: ['content-type', 'x-version'], ignoreJsonPaths: ['$.id', '$.items[*].etag'], maxBodyBytes: 1024 });
    assert.equal(m3!.compare, undefined);
    assert.ok(Object.isFrozen(m2!.compare!.headers));
  });

  it("carries each effective policy's spec in the route's filter_metadata, keyed by runtime key in sorted order", () => {
    const [own, inherits] = vhostRoutes(model) as unknown as Array<{ metadata?: { filter_metadata: Record<string, JsonObject> } }>;
    const specs = own!.metadata!.filter_metadata['shadowplane.mirror_compare']!;
    assert.deepEqual(Object.keys(specs), ['shadowplane.mirror.front.v.r.m1', 'shadowplane.mirror.front.v.r.m2']);
    assert.deepEqual(specs, {
      'shadowplane.mirror.front.v.r.m1': { headers: ['content-type'], ignore_json_paths: [], max_body_bytes: 65536 },
      'shadowplane.mirror.front.v.r.m2': { headers: ['content-type', 'x-version'], ignore_json_paths: ['$.id', '$.items[*].etag'], max_body_bytes: 1024 },
    });
    // A route without its own mirrors carries the spec of the virtual host's policy it inherits.
    assert.deepEqual(inherits!.metadata, {
      filter_metadata: { 'shadowplane.mirror_compare': { 'vh.m1': { headers: ['content-type'], ignore_json_paths: [], max_body_bytes: 0 } } },
    });
  });

  it('an allowlisted header mirror pushed down into variants: each variant carries only the specs in effect on it', () => {
    const variants = vhostRoutes(
      compile(withRoutes(`          - { name: r, match: { prefix: / }, cluster: a }`, `        mirrors: [{ cluster_header: x-m, allowed_clusters: [m1], compare: {} }]\n`)),
    ) as unknown as Array<{ name: string; metadata?: JsonObject }>;
    assert.deepEqual(
      variants.map((v) => [v.name, v.metadata !== undefined]),
      [
        ['r/mirror:x-m=m1', true],
        ['r', false],
      ],
    );
  });
});

describe('routes, clusters and endpoints', () => {
  it('matches, weighted split, timeout and rewrites', () => {
    const model = compile(
      withRoutes(`          - name: r
            match: { regex: "^/api/v[0-9]+", methods: [GET, POST], case_sensitive: false, headers: [{ name: x-debug, present: true }, { name: x-v, regex: "^2", invert: true }] }
            weighted_clusters: [{ cluster: a, weight: 80 }, { cluster: b, weight: 20 }]
            timeout: 1.5s
            prefix_rewrite: /
            host_rewrite: api.internal
            mirrors: [{ cluster: m1 }]`),
    );
    const r = vhostRoutes(model)[0]!;
    assert.deepEqual(r.match, {
      case_sensitive: false,
      headers: [
        { name: 'x-debug', present_match: true },
        { name: 'x-v', invert_match: true, string_match: { safe_regex: { regex: '^2' } } },
        { name: ':method', string_match: { safe_regex: { regex: 'GET|POST' } } },
      ],
      safe_regex: { regex: '^/api/v[0-9]+' },
    });
    const { request_mirror_policies: _m, ...action } = r.route;
    assert.deepEqual(action, {
      weighted_clusters: { clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }] },
      prefix_rewrite: '/',
      host_rewrite_literal: 'api.internal',
      timeout: '1.500s',
    });
  });

  it('clusters: EDS for IPs, STRICT_DNS for names, TLS with SNI, HTTP/2, limits and stream duration', () => {
    const model = compile(`listeners:
  - name: l
    address: 0.0.0.0:1
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: ip, mirrors: [{ cluster: ext }] }] }]
clusters:
  - { name: ip, endpoints: ["10.0.0.1:80", { address: "[::1]:81", weight: 3 }] }
  - name: ext
    endpoints: ["mirror.example.com:443"]
    tls: { sni: mirror.example.com }
    http2: true
    connect_timeout: 2s
    max_stream_duration: 2s
    circuit_breakers: { max_requests: 10, max_pending_requests: 5 }
`);
    const r = translate(model);
    const [ip, ext] = r.clusters.map((c) => canonicalize(c));
    assert.equal(ip!.type, 'EDS');
    assert.deepEqual(ip!.eds_cluster_config, { eds_config: { ads: {}, resource_api_version: 'V3' } });
    assert.equal(ip!.connect_timeout, '5s');
    assert.deepEqual(
      (canonicalize(r.endpoints[0]!) as unknown as { endpoints: Array<{ lb_endpoints: JsonObject[] }> }).endpoints[0]!.lb_endpoints,
      [
        { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } },
        { endpoint: { address: { socket_address: { address: '::1', port_value: 81 } } }, load_balancing_weight: 3 },
      ],
    );
    assert.equal(ext!.type, 'STRICT_DNS');
    assert.equal(r.endpoints.length, 1, 'DNS clusters carry their endpoints inline, not over EDS');
    assert.deepEqual(ext!.circuit_breakers, { thresholds: [{ max_pending_requests: 5, max_requests: 10 }] });
    assert.deepEqual(ext!.transport_socket, {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        common_tls_context: { alpn_protocols: ['h2'] },
        sni: 'mirror.example.com',
      },
    });
    assert.deepEqual(ext!.typed_extension_protocol_options, {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: { max_stream_duration: '2s' },
        explicit_http_config: { http2_protocol_options: {} },
      },
    });
  });
});

describe('a mirror path: the copy goes through an internal listener that rewrites its path', () => {
  /** withRoutes' config with a mirror cluster m1 that has timeouts and limits, and a listener that mirrors nothing. */
  const config = (mirrors: string, nodes = ''): string =>
    withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: ${mirrors} }`, '', nodes)
      .replace('{ name: m1, endpoints: ["127.0.0.1:9002"] }', '{ name: m1, endpoints: ["127.0.0.1:9002"], connect_timeout: 1s, max_stream_duration: 2s, circuit_breakers: { max_requests: 7 } }')
      .replace('{ name: m2, endpoints: ["127.0.0.1:9003"] }', '{ name: m2, endpoints: ["127.0.0.1:9003"], http2: true }')
      .replace('clusters:\n', '  - { name: plain, address: 0.0.0.0:10001, virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a }] }] }\nclusters:\n');
  const json = (r: ResourceSet) => canonicalResources(r) as unknown as Record<'listeners' | 'routes' | 'clusters', Array<JsonObject & { name: string }>>;

  it('replace: the mirror policy names an internal cluster, whose internal listener rewrites the whole path (the query kept) and forwards to the mirror cluster', () => {
    const r = json(translate(compile(config('[{ cluster: m1, path: { value: /mirror } }]'))));
    const policy = (r.routes[0]!.virtual_hosts as Array<{ routes: RouteJson[] }>)[0]!.routes[0]!.route.request_mirror_policies![0]!;
    const name = String(policy.cluster);
    assert.match(name, /^mirror-path:m1:[0-9a-f]{8}$/);
    assert.equal(name, mirrorPathName('m1', { value: '/mirror', mode: 'replace' }));
    assert.deepEqual(policy.runtime_fraction, { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'shadowplane.mirror.front.v.r.m1' });
    assert.deepEqual(r.listeners.map((l) => l.name), ['front', 'plain', name]);
    assert.deepEqual(r.listeners[2], {
      '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
      name,
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: name,
                rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: name },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
              },
            },
          ],
        },
      ],
      internal_listener: {},
    });
    assert.deepEqual(r.routes[2], {
      '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
      name,
      virtual_hosts: [
        {
          name: 'mirror',
          domains: ['*'],
          routes: [{ name: 'mirror', match: { prefix: '/' }, route: { cluster: 'm1', regex_rewrite: { pattern: { regex: '^[^?]*' }, substitution: '/mirror' }, timeout: '0s' } }],
        },
      ],
    });
    // The hop to the internal listener carries the mirror cluster's connect timeout, stream duration and limits.
    assert.deepEqual(r.clusters.find((c) => c.name === name), {
      '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      name,
      type: 'STATIC',
      connect_timeout: '1s',
      circuit_breakers: { thresholds: [{ max_requests: 7 }] },
      load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { envoy_internal_address: { server_listener_name: name } } } }] }] },
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          common_http_protocol_options: { max_stream_duration: '2s' },
          explicit_http_config: { http_protocol_options: {} },
        },
      },
    });
    assert.ok(r.clusters.some((c) => c.name === 'm1'), 'the real mirror cluster is still served');
  });

  it('prefix: the path is the value followed by the request\'s path; another value is another internal listener; an HTTP/2 mirror is reached over HTTP/1 internally', () => {
    const r = json(translate(compile(config('[{ cluster: m1, path: { value: /p, mode: prefix } }, { cluster: m2, path: { value: /q } }]'))));
    const rewrite = (n: string) => ((r.routes.find((x) => x.name === n)!.virtual_hosts as Array<{ routes: RouteJson[] }>)[0]!.routes[0]!.route.regex_rewrite);
    const prefix = mirrorPathName('m1', { value: '/p', mode: 'prefix' });
    assert.notEqual(prefix, mirrorPathName('m1', { value: '/p', mode: 'replace' }));
    assert.deepEqual(rewrite(prefix), { pattern: { regex: '^(.*)$' }, substitution: '/p\\1' });
    const other = mirrorPathName('m2', { value: '/q', mode: 'replace' });
    assert.deepEqual(rewrite(other), { pattern: { regex: '^[^?]*' }, substitution: '/q' });
    assert.equal(r.clusters.find((c) => c.name === other)!.typed_extension_protocol_options, undefined);
  });

  it('a header-selected mirror with an allowlist gets an internal listener per allowed cluster, one per route variant', () => {
    const r = json(translate(compile(config('[{ cluster_header: x-m, allowed_clusters: [m1, m2], path: { value: /h } }]'))));
    const routes = (r.routes[0]!.virtual_hosts as Array<{ routes: RouteJson[] }>)[0]!.routes;
    const names = ['m1', 'm2'].map((c) => mirrorPathName(c, { value: '/h', mode: 'replace' }));
    assert.deepEqual(routes.map((x) => (x.route.request_mirror_policies ?? []).map((p) => p.cluster)), [[names[0]], [names[1]], []]);
    assert.deepEqual(r.listeners.map((l) => l.name), ['front', 'plain', ...names]);
  });

  it('only nodes that get the mirroring listener get its internal listener and clusters', () => {
    const model = compile(config('[{ cluster: m1, path: { value: /mirror } }]', '    nodes: [{ id: edge }]\n'));
    const name = mirrorPathName('m1', { value: '/mirror', mode: 'replace' });
    assert.deepEqual(translate(model, { id: 'edge' }).listeners.map((l) => l.name), ['front', 'plain', name]);
    const other = translate(model, { id: 'other' });
    assert.deepEqual([other.listeners.map((l) => l.name), other.routes.map((l) => l.name), other.clusters.map((l) => l.name)], [['plain'], ['plain'], ['a']]);
  });
});

describe('node selection', () => {
  const text = `listeners:
  - name: edge
    address: 0.0.0.0:1
    nodes: [{ id: "edge-*" }]
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1 }] }] }]
  - name: internal
    address: 0.0.0.0:2
    nodes: [{ cluster: mesh }]
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: b }] }]
  - name: everyone
    address: 0.0.0.0:3
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: b }] }]
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
  - { name: b, endpoints: ["127.0.0.1:2"] }
  - { name: m1, endpoints: ["127.0.0.1:3"] }
`;
  const names = (r: ResourceSet): string[][] => [r.listeners.map((l) => String(l.name)), r.clusters.map((c) => String(c.name))];
  const model = compile(text);
  const cases: Array<[string, { id: string; cluster?: string } | undefined, string[][]]> = [
    ['no node: everything', undefined, [['edge', 'internal', 'everyone'], ['a', 'b', 'm1']]],
    ['node id glob', { id: 'edge-7' }, [['edge', 'everyone'], ['a', 'b', 'm1']]],
    ['node cluster', { id: 'x', cluster: 'mesh' }, [['internal', 'everyone'], ['b']]],
    ['no selector matches', { id: 'other' }, [['everyone'], ['b']]],
  ];
  for (const [name, node, expected] of cases) it(name, () => assert.deepEqual(names(translate(model, node)), expected));
});

describe('stability', () => {
  const bytes = (r: ResourceSet): string[] =>
    [...r.listeners, ...r.routes, ...r.clusters, ...r.endpoints].map((x: TypedJson) => Buffer.from(encodeTyped(x)).toString('hex'));

  it('the same config compiles to byte-identical resources', () => {
    const text = withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1, percent: 50 }] }`);
    assert.deepEqual(bytes(translate(compile(text))), bytes(translate(compile(text))));
  });

  it('editing one cluster leaves every other resource byte-identical', () => {
    const before = withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1 }] }`);
    const after = before.replace('{ name: m1, endpoints: ["127.0.0.1:9002"] }', '{ name: m1, endpoints: ["127.0.0.1:9999"] }');
    assert.notEqual(before, after);
    const [b, a] = [translate(compile(before)), translate(compile(after))];
    const changed = bytes(b)
      .map((x, i) => (x === bytes(a)[i] ? null : i))
      .filter((i) => i !== null);
    const all = [...b.listeners, ...b.routes, ...b.clusters, ...b.endpoints];
    assert.deepEqual(
      changed.map((i) => `${all[i!]!['@type'].split('.').at(-1)}:${String(all[i!]!.name ?? all[i!]!.cluster_name)}`),
      ['ClusterLoadAssignment:m1'],
    );
  });

  it('the model is deep-frozen', () => {
    const model = compile(withRoutes(`          - { name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: m1 }] }`));
    assert.ok(Object.isFrozen(model.listeners[0]!.virtualHosts[0]!.routes[0]!.mirrors[0]!.fraction));
    assert.throws(() => {
      (model.clusters as unknown as unknown[]).push({});
    }, TypeError);
  });
});
