// What the APISIX import refuses or warns about, each problem at the file's line:col with the route,
// upstream or service it belongs to and the field path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
