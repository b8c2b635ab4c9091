// What the APISIX import refuses or warns about, each problem at the file's line:col with the route,
// upstream or service it belongs to and the field path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../src/config/load.js';
import { formatProblem } from '../src/config/problems.js';
import { importFiles, itFindsEach, problemLines } from './helpers/import-text.js';

/** An apisix.yaml with one route whose body is `route` (indented under `- id: r`). */
function apisix(route: string, more = ''): string {
  return `routes:
  - id: r
    uri: /get
${route}${more}`;
}

const UPSTREAM = '    upstream: { nodes: { "10.0.0.1:80": 1 } }\n';

function lines(text: string, more: Record<string, string> = {}): string[] {
  return problemLines(importFiles({ 'apisix.yaml': text, ...more }));
}

describe('APISIX import: accepted', () => {
  it("config.yaml's node_listen is the listener's port unless --listen-address gives one; a node without a port is on the scheme's", () => {
    const files = { 'apisix.yaml': apisix('    upstream: { scheme: https, nodes: { "backend.example": 1 }, timeout: { connect: 3, send: 5, read: 10 } }\n'), 'config.yaml': 'apisix:\n  node_listen: 9180\n  enable_ipv6: false\n' };
    const r = importFiles(files);
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.equal(r.config.listeners[0]!.address, '127.0.0.1:9180');
    assert.deepEqual(r.config.clusters, [
      { name: 'apisix.route.r', endpoints: ['backend.example:443'], type: 'strict_dns', connect_timeout: '3s', max_stream_duration: '10s', tls: { sni: 'backend.example' } },
    ]);
    assert.deepEqual(problemLines(r), [
      `config.yaml:3:3 apisix.enable_ipv6: warning: "enable_ipv6" is ignored: one of APISIX's process settings, not routing [SP103]`,
    ]);
    const pinned = importFiles(files, { listen: { host: '127.0.0.1', port: 19080 } });
    assert.ok(pinned.ok);
    assert.equal(pinned.config.listeners[0]!.address, '127.0.0.1:19080');
  });

  it('warnings: a disabled route, health checks, a balancer other than round robin, a sample ratio finer than a millionth', () => {
    const r = importFiles({
      'apisix.yaml': apisix(
        `    upstream: { type: least_conn, nodes: { "10.0.0.1:80": 1 }, checks: { active: { http_path: /health } } }
    plugins: { proxy-mirror: { host: "http://10.0.0.9", sample_ratio: 0.1234567 } }
  - { id: off, uri: /off, status: 0, upstream: { nodes: { "10.0.0.1:80": 1 } } }
`,
      ),
    });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(problemLines(r), [
      'apisix.yaml:4:23 route/r: upstream.type: warning: type least_conn: shadowplane balances round robin [SP104]',
      'apisix.yaml:4:64 route/r: upstream.checks: warning: "checks" is ignored: shadowplane does not health-check; every node keeps getting traffic [SP103]',
      "apisix.yaml:5:71 route/r: plugins.proxy-mirror.sample_ratio: warning: sample_ratio 0.1234567 is mirrored as 12.3457% (Envoy's finest share is one in a million) [SP104]",
      'apisix.yaml:6:35 route/off: status: warning: status 0: the route is disabled and is not served [SP103]',
    ]);
  });
});

describe('APISIX import: proxy-mirror path and path_concat_mode', () => {
  const mirrorOf = (conf: string) => {
    const r = importFiles({ 'apisix.yaml': apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9", ${conf} } }\n`) });
    assert.ok(r.ok, problemLines(r).join('\n'));
    return r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!.mirrors![0]!;
  };
  it('path alone is replace, the default; prefix is kept; path_concat_mode without a path changes nothing, as in APISIX', () => {
    assert.deepEqual(mirrorOf('path: /mirror').path, { value: '/mirror', mode: 'replace' });
    assert.deepEqual(mirrorOf('path: /mirror, path_concat_mode: prefix').path, { value: '/mirror', mode: 'prefix' });
    assert.equal(mirrorOf('path_concat_mode: prefix').path, undefined);
    assert.deepEqual(mirrorOf('path: /m').cluster, 'proxy-mirror.http.10.0.0.9.80');
  });
});

describe('APISIX import: refused, each problem where it is written', () => {
  itFindsEach([
    [
      "proxy-mirror's path as its schema forbids it: with a query",
      () => lines(apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9", path: "/mirror?x=1" } }\n`)),
      /^apisix\.yaml:5:63 route\/r: plugins\.proxy-mirror\.path: "\/mirror\?x=1" is not a path APISIX takes \("\/" and at least one more character, no "\?" or "&"\) \[SP021\]$/,
    ],
    [
      "proxy-mirror's path_concat_mode other than replace or prefix",
      () => lines(apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9", path: /mirror, path_concat_mode: append } }\n`)),
      /^apisix\.yaml:5:90 route\/r: plugins\.proxy-mirror\.path_concat_mode: path_concat_mode is replace or prefix, got "append" \[SP021\]$/,
    ],
    [
      "a proxy-mirror path APISIX takes but a URL cannot carry as it is (white space)",
      () => lines(apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9", path: "/a b" } }\n`)),
      /^apisix\.yaml:5:57 route\/r: plugins\.proxy-mirror\.path: "\/a b": a mirror path with "#", "\\" or white space \[SP014\]$/,
    ],
    [
      'a plugin other than proxy-mirror',
      () => lines(apisix(`${UPSTREAM}    plugins: { limit-count: { count: 2, time_window: 60 } }\n`)),
      /^apisix\.yaml:5:16 route\/r: plugins\.limit-count: plugin limit-count: shadowplane runs proxy-mirror only \[SP014\]$/,
    ],
    [
      'a route matching on vars',
      () => lines(apisix(`${UPSTREAM}    vars: [["arg_name", "==", "json"]]\n`)),
      /^apisix\.yaml:5:5 route\/r: vars: vars: shadowplane matches on uri, host and method \[SP014\]$/,
    ],
    [
      'an upstream_id that is not defined',
      () => lines(apisix('    upstream_id: nope\n')),
      /^apisix\.yaml:4:18 route\/r: upstream_id: BackendNotFound: upstream nope not found \[SP016\]$/,
    ],
    [
      'a sample ratio out of range',
      () => lines(apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9", sample_ratio: 0 } }\n`)),
      /plugins\.proxy-mirror\.sample_ratio: sample_ratio is from 0\.00001 to 1, got 0 \[SP021\]$/,
    ],
    [
      'a mirror host with a path',
      () => lines(apisix(`${UPSTREAM}    plugins: { proxy-mirror: { host: "http://10.0.0.9/x" } }\n`)),
      /plugins\.proxy-mirror\.host: "http:\/\/10\.0\.0\.9\/x" is not scheme:\/\/host\[:port\] .* \[SP021\]$/,
    ],
    [
      'consistent hashing',
      () => lines(apisix('    upstream: { type: chash, hash_on: header, key: x, nodes: { "10.0.0.1:80": 1 } }\n')),
      /upstream\.type: type chash \(consistent hashing\): shadowplane balances round robin \[SP014\]$/,
    ],
    [
      'retries',
      () => lines(apisix('    upstream: { retries: 2, nodes: { "10.0.0.1:80": 1 } }\n')),
      /upstream\.retries: retries: shadowplane makes one attempt \(set retries: 0\) \[SP014\]$/,
    ],
    [
      'global rules',
      () => lines(apisix(UPSTREAM, 'global_rules: [{ id: 1, plugins: { prometheus: {} } }]\n')),
      /^apisix\.yaml:5:1 global_rules: field "global_rules" is not supported by shadowplane's APISIX import \[SP014\]$/,
    ],
    [
      'a "*" inside a uri',
      () => lines(apisix(UPSTREAM).replace('uri: /get', 'uri: /a/*/b')),
      /route\/r: uri: uri "\/a\/\*\/b": "\*" only at the end \(a prefix\) \[SP014\]$/,
    ],
    [
      'a router other than radixtree_host_uri',
      () => lines(apisix(UPSTREAM), { 'config.yaml': 'apisix:\n  router:\n    http: radixtree_uri\n' }),
      /^config\.yaml:3:5 apisix\.router\.http: router radixtree_uri: shadowplane routes as radixtree_host_uri .* \[SP014\]$/,
    ],
    [
      '--from gateway-api on an APISIX configuration',
      () => problemLines(importFiles({ 'apisix.yaml': apisix(UPSTREAM) }, { from: 'gateway-api' })),
      /^apisix\.yaml:1:1: an APISIX configuration is apisix, not gateway-api \(--from gateway-api\) \[SP015\]$/,
    ],
  ]);
});

describe("APISIX import: a plugin's _meta", () => {
  const withMeta = (meta: string) => lines(apisix(`${UPSTREAM}    plugins:\n      proxy-mirror:\n        host: "http://10.0.0.9"\n        _meta: ${meta}\n`));

  it('priority and error_response change nothing proxy-mirror does: ignored, each with a warning', () => {
    const r = importFiles({ 'apisix.yaml': apisix(`${UPSTREAM}    plugins:\n      proxy-mirror:\n        host: "http://10.0.0.9"\n        _meta: { disable: false, priority: 10, error_response: { message: no } }\n`) });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.listeners[0]!.virtual_hosts[0]!.routes[0]!.mirrors?.map((m) => m.cluster), ['proxy-mirror.http.10.0.0.9.80']);
    assert.deepEqual(problemLines(r), [
      'apisix.yaml:8:34 route/r: plugins.proxy-mirror._meta.priority: warning: "priority" is ignored: proxy-mirror is the only plugin shadowplane runs, so its order among plugins changes nothing [SP103]',
      'apisix.yaml:8:48 route/r: plugins.proxy-mirror._meta.error_response: warning: "error_response" is ignored: proxy-mirror never rejects a request, so it has no error response to replace [SP103]',
    ]);
  });

  itFindsEach([
    [
      '_meta.filter (the plugin would run only on the requests it matches)',
      () => withMeta('{ filter: [["arg_mirror", "==", "1"]] }'),
      /^apisix\.yaml:8:18 route\/r: plugins\.proxy-mirror\._meta\.filter: _meta\.filter: proxy-mirror would run only on the requests the filter's vars match; shadowplane applies it to every request of the route \[SP014\]$/,
    ],
    [
      '_meta.pre_function',
      () => withMeta('{ pre_function: "return function() end" }'),
      /^apisix\.yaml:8:18 route\/r: plugins\.proxy-mirror\._meta\.pre_function: _meta\.pre_function: shadowplane runs no Lua before proxy-mirror \[SP014\]$/,
    ],
    [
      'a _meta key APISIX does not have',
      () => withMeta('{ disabled: true }'),
      /^apisix\.yaml:8:18 route\/r: plugins\.proxy-mirror\._meta\.disabled: field "disabled" is not supported by shadowplane's APISIX import \[SP014\]$/,
    ],
  ]);
});

describe("APISIX import: config.yaml's node_listen with several entries", () => {
  const ROUTES = apisix(UPSTREAM);
  const withListen = (nodeListen: string, o: Parameters<typeof importFiles>[1] = {}) => importFiles({ 'apisix.yaml': ROUTES, 'config.yaml': `apisix:\n  node_listen:\n${nodeListen}` }, o);

  it('serves every entry, ports and { port, ip } objects, each a listener with all the routes', () => {
    const r = withListen('    - 9080\n    - port: 9081\n    - { ip: 127.0.0.2, port: 9082 }\n    - { ip: "::1", port: 9083 }\n');
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(
      r.config.listeners.map((l) => [l.name, l.address]),
      [
        ['apisix.9080', '127.0.0.1:9080'],
        ['apisix.9081', '127.0.0.1:9081'],
        ['apisix.9082', '127.0.0.2:9082'],
        ['apisix.9083', '[::1]:9083'],
      ],
    );
    for (const l of r.config.listeners) assert.deepEqual(l.virtual_hosts, r.config.listeners[0]!.virtual_hosts);
    assert.deepEqual(r.config.listeners[0]!.virtual_hosts[0]!.routes.map((x) => x.name), ['apisix.r.uri0']);
    assert.deepEqual(problemLines(r), []);
  });

  it('one port on two IPs: the listeners are told apart by IP too', () => {
    const r = withListen('    - 9080\n    - { ip: 127.0.0.2, port: 9080 }\n');
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.listeners.map((l) => [l.name, l.address]), [
      ['apisix.127_0_0_1.9080', '127.0.0.1:9080'],
      ['apisix.127_0_0_2.9080', '127.0.0.2:9080'],
    ]);
  });

  it("--listen-address IP:PORT moves the routes to one listener, with a warning naming the entries it replaces", () => {
    const r = withListen('    - 9080\n    - 9081\n', { listen: { host: '127.0.0.1', port: 19080 } });
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.listeners.map((l) => [l.name, l.address]), [['apisix', '127.0.0.1:19080']]);
    assert.deepEqual(problemLines(r), [
      "config.yaml:3:7 apisix.node_listen[0]: warning: --listen-address 127.0.0.1:19080 replaces node_listen's 2 listeners: the routes are served there only [SP104]",
    ]);
  });

  it('a single entry keeps the listener name apisix; enable_http2 is warned about', () => {
    const r = withListen('    - { port: 9081, enable_http2: true }\n');
    assert.ok(r.ok, problemLines(r).join('\n'));
    assert.deepEqual(r.config.listeners.map((l) => [l.name, l.address]), [['apisix', '127.0.0.1:9081']]);
    assert.deepEqual(problemLines(r), [
      'config.yaml:3:21 apisix.node_listen[0].enable_http2: warning: enable_http2: Envoy takes HTTP/2 with prior knowledge (h2c) on every listener, this one included; the built-in data plane takes HTTP/1.1 only [SP104]',
    ]);
  });

  itFindsEach([
    [
      'the same address twice',
      () => problemLines(withListen('    - 9080\n    - { port: 9080 }\n')),
      /^config\.yaml:4:7 apisix\.node_listen\[1\]: node_listen lists every address port 9080 twice \(also at apisix\.node_listen\[0\]\) \[SP020\]$/,
    ],
    [
      'an ip that is not an IP address',
      () => problemLines(withListen('    - { ip: localhost, port: 9080 }\n')),
      /^config\.yaml:3:13 apisix\.node_listen\[0\]\.ip: "localhost" is not an IP address \[SP021\]$/,
    ],
    [
      'an entry that is not a port',
      () => problemLines(withListen('    - 9080\n    - "9081"\n')),
      /^config\.yaml:4:7 apisix\.node_listen\[1\]: expected a port from 1 to 65535, got "9081" \[SP021\]$/,
    ],
    [
      'an entry key APISIX does not have',
      () => problemLines(withListen('    - { port: 9080, backlog: 511 }\n')),
      /^config\.yaml:3:21 apisix\.node_listen\[0\]\.backlog: field "backlog" is not supported by shadowplane's APISIX import \[SP014\]$/,
    ],
    [
      'a wildcard and a specific IP on one port: the listeners clash, reported at the entry',
      () => problemLines(withListen('    - 9080\n    - { ip: 127.0.0.2, port: 9080 }\n', { listen: { host: '0.0.0.0', port: undefined } })),
      /^config\.yaml:4:7 apisix\.node_listen\[1\]: port 9080 is already taken by listeners\[0\] \(in the shadowplane config this becomes: listeners\[1\]\.address\) \[SP006\]$/,
    ],
  ]);
});

describe("APISIX import: a misspelt top-level key is reported in APISIX's terms", () => {
  /** One file read on its own, as `validate apisix.yaml` reads it. */
  const alone = (text: string, file = 'apisix.yaml'): string[] => {
    const r = parseConfigText(text, file);
    return (r.ok ? r.warnings : r.problems).map(formatProblem);
  };
  const ROUTE = '  - id: r\n    uri: /get\n    upstream: { nodes: { "10.0.0.1:80": 1 } }\n';

  it('`route:` in a file that ends with #END, as APISIX requires', () => {
    assert.deepEqual(alone(`route:\n${ROUTE}#END\n`), ['apisix.yaml:1:1 route: "route" is not a top-level key of APISIX\'s apisix.yaml or config.yaml: did you mean "routes"? [SP014]']);
  });

  it('`route:` without #END: the key is near enough to one of APISIX\'s', () => {
    assert.deepEqual(alone(`route:\n${ROUTE}`), ['apisix.yaml:1:1 route: "route" is not a top-level key of APISIX\'s apisix.yaml or config.yaml: did you mean "routes"? [SP014]']);
  });

  it('`upstream:` beside routes', () => {
    // The upstream it meant is not read, so the route's upstream_id is not found either.
    assert.deepEqual(alone(`routes:\n  - { id: r, uri: /get, upstream_id: 1 }\nupstream:\n  - { id: 1, nodes: { "10.0.0.1:80": 1 } }\n#END\n`), [
      'apisix.yaml:2:38 route/r: upstream_id: BackendNotFound: upstream 1 not found [SP016]',
      'apisix.yaml:3:1 upstream: "upstream" is not a top-level key of APISIX\'s apisix.yaml or config.yaml: did you mean "upstreams"? [SP014]',
    ]);
  });

  it('a key that is nothing like APISIX\'s, in a file that ends with #END: the keys APISIX has are listed', () => {
    const [line, ...rest] = alone(`frobs:\n${ROUTE}#END\n`);
    assert.deepEqual(rest, []);
    assert.match(line!, /^apisix\.yaml:1:1 frobs: "frobs" is not a top-level key of APISIX's apisix\.yaml or config\.yaml: APISIX's apisix\.yaml has routes, upstreams, services, plugin_configs, .*; its config\.yaml apisix, deployment, .*plugin_attr.* \[SP014\]$/);
  });

  it('config.yaml with `apisx:` beside plugin_attr', () => {
    assert.deepEqual(alone('apisx:\n  node_listen: 9081\nplugin_attr:\n  proxy-mirror: { timeout: { connect: 2s } }\n', 'config.yaml'), [
      'config.yaml:1:1 apisx: "apisx" is not a top-level key of APISIX\'s apisix.yaml or config.yaml: did you mean "apisix"? [SP014]',
    ]);
  });

  it("shadowplane's own YAML and a lone unknown document are read as before", () => {
    assert.match(alone('listener: []\nclusters: []\n', 'own.yaml').join('\n'), /listener/);
    assert.doesNotMatch(alone('foo: 1\n', 'own.yaml').join('\n'), /APISIX/);
  });
});
