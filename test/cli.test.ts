// The CLI as a user runs it: the bin entry over the built dist/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { makeTestPki, type TestPki } from './helpers/pki.js';
import { exampleConfigs, importExamples, REPO_ROOT } from './helpers/repo.js';

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('shadowplane CLI', () => {
  let dir = '';
  let pki: TestPki;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-cli-'));
    pki = await makeTestPki();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await pki.remove();
  });

  it('validate passes every example config', () => {
    const configs = exampleConfigs();
    const r = cli('validate', ...configs);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(
      r.stdout.trim().split('\n').map((l) => l.split(':')[0]),
      configs,
    );
    assert.match(r.stdout, /configs\/sandbox\.yaml: ok \(1 listeners, 2 routes, 4 clusters\)/);
    assert.match(r.stdout, /configs\/apisix-sample-ratio\.yaml: ok .*needs Envoy >= 1\.36\.0/);
  });

  it('validate prints every problem of a broken file and exits 1, and goes on to the next file', async () => {
    const bad = path.join(dir, 'bad.yaml');
    const original = await readFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8');
    await writeFile(bad, original.replace('cluster: service1-mirror', 'cluster: service1-mirrr').replace('[service2-mirror]', '[nope]'));
    const r = cli('validate', bad, 'configs/sandbox.yaml');
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `${bad}:16:26 listeners[0].virtual_hosts[0].routes[0].mirrors[0].cluster: unknown cluster "service1-mirrr" [SP003]\n` +
        `${bad}:24:36 listeners[0].virtual_hosts[0].routes[1].mirrors[0].allowed_clusters[0]: unknown cluster "nope" in allowlist [SP004]\n` +
        `${bad}:30:11 clusters[1].name: warning: cluster "service1-mirror" is not used by any route or mirror [SP102]\n` +
        `${bad}:36:11 clusters[3].name: warning: cluster "service2-mirror" is not used by any route or mirror [SP102]\n` +
        `${bad}: rejected with 2 errors; nothing was applied\n`,
    );
    assert.equal(r.stdout, 'configs/sandbox.yaml: ok (1 listeners, 2 routes, 4 clusters)\n');
  });

  it('render prints {listeners, routes, clusters, endpoints} with @type, as JSON or YAML', () => {
    const json = cli('render', 'configs/sandbox.yaml');
    assert.equal(json.status, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as Record<string, Array<Record<string, unknown>>>;
    assert.deepEqual(Object.keys(doc), ['listeners', 'routes', 'clusters', 'endpoints']);
    assert.deepEqual(doc.clusters!.map((c) => c.name), ['service1', 'service1-mirror', 'service2', 'service2-mirror']);
    assert.ok(doc.listeners!.every((l) => l['@type'] === 'type.googleapis.com/envoy.config.listener.v3.Listener'));
    const yaml = cli('render', 'configs/sandbox.yaml', '--format', 'yaml');
    assert.deepEqual(parse(yaml.stdout), doc);
  });

  it('render --node serves only the listeners a node is selected for', async () => {
    const file = path.join(dir, 'nodes.yaml');
    await writeFile(
      file,
      `listeners:
  - { name: a, address: 0.0.0.0:1, nodes: [{ id: "edge-*" }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: c }] }] }
  - { name: b, address: 0.0.0.0:2, nodes: [{ cluster: mesh }], virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: c }] }] }
clusters: [{ name: c, endpoints: ["127.0.0.1:1"] }]
`,
    );
    const names = (args: string[]): unknown => (JSON.parse(cli('render', file, ...args).stdout) as { listeners: Array<{ name: string }> }).listeners.map((l) => l.name);
    assert.deepEqual(names([]), ['a', 'b']);
    assert.deepEqual(names(['--node', 'edge-1']), ['a']);
    assert.deepEqual(names(['--node', 'x', '--node-cluster', 'mesh']), ['b']);
  });

  it('bootstrap reproduces the checked-in envoy/bootstrap.yaml', async () => {
    const r = cli('bootstrap', '--xds', '127.0.0.1:18000', '--node-id', 'sandbox-front', '--node-cluster', 'sandbox', '--admin-port', '9901');
    assert.equal(r.status, 0, r.stderr);
    const checkedIn = (await readFile(path.join(REPO_ROOT, 'envoy/bootstrap.yaml'), 'utf8')).replace(/^(#.*\n)+/, '');
    assert.equal(r.stdout, checkedIn);
  });

  it('bootstrap reproduces the checked-in envoy/bootstrap-fleet.yaml (the compose fleet\'s front proxy)', async () => {
    const r = cli('bootstrap', '--xds', '127.0.0.1:18001,127.0.0.1:18002', '--node-id', 'fleet-front', '--node-cluster', 'sandbox', '--admin-port', '9902');
    assert.equal(r.status, 0, r.stderr);
    const checkedIn = (await readFile(path.join(REPO_ROOT, 'envoy/bootstrap-fleet.yaml'), 'utf8')).replace(/^(#.*\n)+/, '');
    assert.equal(r.stdout, checkedIn);
  });

  it('bootstrap --delta asks for incremental xDS; a node id like "n" stays a string for Envoy', () => {
    const r = cli('bootstrap', '--xds', 'shadowplane:18000', '--node-id', 'n', '--delta');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /api_type: DELTA_GRPC/);
    assert.match(r.stdout, /id: "n"/);
    assert.match(r.stdout, /type: STRICT_DNS/);
  });

  it('bootstrap --xds A,B,C puts every replica in the xDS cluster, health-checked, with no panic mode and a fast stream retry', () => {
    type Cluster = { name: string; type: string; load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> }; health_checks?: unknown; common_lb_config?: unknown };
    type Doc = { dynamic_resources: { ads_config: { grpc_services: Array<{ envoy_grpc: Record<string, unknown> }> } }; static_resources: { clusters: Cluster[] } };
    const of = (xds: string): { doc: Doc; cluster: Cluster } => {
      const r = cli('bootstrap', '--xds', xds, '--node-id', 'n');
      assert.equal(r.status, 0, r.stderr);
      const doc = parse(r.stdout) as Doc;
      return { doc, cluster: doc.static_resources.clusters.find((c) => c.name === 'shadowplane_xds')! };
    };
    const fleet = of('127.0.0.1:18001,127.0.0.1:18002,[::1]:18003');
    assert.equal(fleet.cluster.type, 'STATIC');
    assert.deepEqual(
      fleet.cluster.load_assignment.endpoints[0]!.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address} ${e.endpoint.address.socket_address.port_value}`),
      ['127.0.0.1 18001', '127.0.0.1 18002', '::1 18003'],
    );
    assert.deepEqual(fleet.cluster.health_checks, [{ timeout: '1s', interval: '1s', no_traffic_interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }]);
    assert.deepEqual(fleet.cluster.common_lb_config, { healthy_panic_threshold: { value: 0 } });
    assert.deepEqual(fleet.doc.dynamic_resources.ads_config.grpc_services[0]!.envoy_grpc, { cluster_name: 'shadowplane_xds', retry_policy: { retry_back_off: { base_interval: '0.25s', max_interval: '2s' } } });
    // One DNS name may stand for every replica: resolved to all its addresses, with the same failover.
    const named = of('shadowplane.example:18000');
    assert.equal(named.cluster.type, 'STRICT_DNS');
    assert.ok(named.cluster.health_checks);
    // One address: as before, nothing to fail over to.
    const one = of('127.0.0.1:18000');
    assert.equal(one.cluster.health_checks, undefined);
    assert.deepEqual(one.doc.dynamic_resources.ads_config.grpc_services[0]!.envoy_grpc, { cluster_name: 'shadowplane_xds' });
    const bad = cli('bootstrap', '--xds', '127.0.0.1:1,nope', '--node-id', 'n');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^shadowplane: --xds must be host:port\[,host:port…\], not "nope" in "127\.0\.0\.1:1,nope"\n/);
  });

  it('bootstrap --xds-ca --xds-client-cert --xds-client-key puts the xDS cluster on mutual TLS, with absolute paths and a name to verify', () => {
    const rel = (f: string): string => path.relative(REPO_ROOT, f);
    const tlsOf = (args: string[]): Record<string, unknown> => {
      const r = cli('bootstrap', '--xds', '127.0.0.1:18000', '--node-id', 'node-a', '--xds-ca', rel(pki.caFile), '--xds-client-cert', rel(pki.nodeA.certFile), '--xds-client-key', rel(pki.nodeA.keyFile), ...args);
      assert.equal(r.status, 0, r.stderr);
      const doc = parse(r.stdout) as { static_resources: { clusters: Array<{ name: string; transport_socket: { name: string; typed_config: Record<string, unknown> } }> } };
      const socket = doc.static_resources.clusters.find((c) => c.name === 'shadowplane_xds')!.transport_socket;
      assert.equal(socket.name, 'envoy.transport_sockets.tls');
      return socket.typed_config;
    };
    assert.deepEqual(tlsOf([]), {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: {
        alpn_protocols: ['h2'],
        validation_context: { trusted_ca: { filename: pki.caFile }, match_typed_subject_alt_names: [{ san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } }] },
        tls_certificates: [{ certificate_chain: { filename: pki.nodeA.certFile }, private_key: { filename: pki.nodeA.keyFile } }],
      },
    });
    const withSni = tlsOf(['--xds-sni', 'localhost']) as { sni: string; common_tls_context: { validation_context: unknown } };
    assert.equal(withSni.sni, 'localhost');
    assert.deepEqual((withSni.common_tls_context.validation_context as { match_typed_subject_alt_names: unknown }).match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: 'localhost' } }]);
  });

  it('TLS and token flag mistakes are one clear line and exit 2', async () => {
    const keyOfAnother = path.join(dir, 'mismatch');
    const serve = ['serve', '--config', 'configs/sandbox.yaml', '--xds', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
    const server = ['--xds-tls-cert', pki.server.certFile, '--xds-tls-key', pki.server.keyFile];
    await writeFile(path.join(dir, 'empty-token'), '\n');
    const cases: Array<[string[], RegExp]> = [
      [[...serve, '--xds-tls-cert', pki.server.certFile], /^shadowplane: --xds-tls-cert and --xds-tls-key go together\n/],
      [[...serve, '--xds-client-ca', pki.caFile], /^shadowplane: --xds-client-ca needs --xds-tls-cert and --xds-tls-key\n/],
      [[...serve, ...server, '--xds-node-identity', 'spiffe://x/{id}'], /^shadowplane: --xds-node-identity needs --xds-client-ca/],
      [[...serve, ...server, '--xds-client-ca', pki.caFile, '--xds-node-identity', 'spiffe://x/{name}'], /^shadowplane: --xds-node-identity: unknown placeholder "\{name\}"/],
      [[...serve, ...server, '--xds-client-ca', pki.caFile, '--xds-node-identity', 'spiffe://x/ns/*'], /^shadowplane: --xds-node-identity: node identity template "spiffe:\/\/x\/ns\/\*" must contain \{id\}/],
      [[...serve, '--xds-tls-cert', keyOfAnother, '--xds-tls-key', pki.server.keyFile], /^shadowplane: cannot use .*mismatch as the xDS server certificate: ENOENT\n$/],
      [[...serve, '--xds-tls-cert', pki.server.certFile, '--xds-tls-key', pki.nodeB.keyFile], /^shadowplane: cannot use .*node-b-key\.pem as the xDS server private key: the key does not belong to the certificate\n$/],
      [[...serve, ...server, '--xds-client-ca', pki.server.keyFile], /^shadowplane: cannot use .*server-key\.pem as the CA for xDS client certificates: not a PEM certificate/],
      [[...serve, '--admin-tls-key', pki.server.keyFile], /^shadowplane: --admin-tls-cert and --admin-tls-key go together\n/],
      [[...serve, '--admin-read-token-file', path.join(dir, 'empty-token')], /^shadowplane: --admin-read-token-file .*empty-token is empty\n/],
      [['bootstrap', '--xds', '127.0.0.1:1', '--node-id', 'x', '--xds-client-cert', pki.nodeA.certFile, '--xds-client-key', pki.nodeA.keyFile], /^shadowplane: --xds-client-cert needs --xds-ca/],
      [['bootstrap', '--xds', '127.0.0.1:1', '--node-id', 'x', '--xds-ca', path.join(dir, 'nope.pem')], /^shadowplane: cannot use .*nope\.pem as the CA for the xDS server certificate: ENOENT\n$/],
      [['proxy', '--xds', '127.0.0.1:1', '--node-id', 'x', '--xds-sni', 'cp'], /^shadowplane: --xds-sni needs --xds-ca/],
      [['sandbox', '--mtls'], /^shadowplane: --mtls needs --envoy/],
      [['status', '--admin', '127.0.0.1:1', '--admin-ca', pki.caFile], /^shadowplane: --admin-ca needs an https:\/\/ --admin address\n/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${args.join(' ')} printed a stack trace`);
    }
  });

  it('usage errors exit 2 with the usage', () => {
    for (const args of [['frobnicate'], ['bootstrap', '--node-id', 'x'], ['render'], ['render', 'configs/sandbox.yaml', '--format', 'xml'], ['validate', '--bogus']]) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^shadowplane: .*\nusage:/);
    }
  });

  it('convert prints the shadowplane config of imported documents (with where each part came from) and it validates', async () => {
    const seed = 'configs/imports/gateway-api/seed-002';
    const r = cli('convert', seed, '--listen-address', '127.0.0.1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# shadowplane config converted from configs\/imports\/gateway-api\/seed-002 by `shadowplane convert`\n/);
    assert.match(r.stdout, /# from HTTPRoute\/default\/http-mirror spec\.rules\[0\]\.filters\[0\] \(configs\/imports\/gateway-api\/seed-002\/httproute\.yaml:16\)\n\s+- cluster: default\.backend-2\.3000\n/);
    assert.match(r.stdout, /address: 127\.0\.0\.1:8080\n/);
    // Warnings (kinds that carry no routing) go to stderr, with file:line:col.
    assert.match(r.stderr, /^configs\/imports\/gateway-api\/seed-002\/backend-2\.yaml:22:1 Deployment\/default\/backend-2: warning: .* \[SP103\]$/m);
    const converted = path.join(dir, 'converted.yaml');
    await writeFile(converted, r.stdout);
    const v = cli('validate', converted, seed);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `${converted}: ok (1 listeners, 1 routes, 2 clusters)\n${seed}: ok (1 listeners, 1 routes, 2 clusters)\n`);
    // Files given one by one are read as one set.
    const files = ['gateway.yaml', 'httproute.yaml', 'backend-2.yaml', 'endpointslices.yaml'].map((f) => path.join(seed, f));
    assert.equal(cli('convert', ...files, '--listen-address', '127.0.0.1').stdout.split('\n').slice(1).join('\n'), r.stdout.split('\n').slice(1).join('\n'));
  });

  it('validate reads every imported-format example folder, each detected as its format', () => {
    const examples = importExamples();
    for (const e of examples) {
      const r = cli('validate', e.dir, '--from', e.format);
      assert.equal(r.status, 0, `${e.dir}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^${e.dir}: ok \\(\\d+ listeners, \\d+ routes, \\d+ clusters`));
      assert.doesNotMatch(r.stderr, /\[SP0\d\d\]/, 'warnings only');
    }
  });

  it('convert: errors to stderr with file:line:col and exit 1; --from another format exits 1; bad flags exit 2', async () => {
    const seed = 'configs/imports/gateway-api/seed-002';
    const broken = cli('convert', path.join(seed, 'httproute.yaml'), path.join(seed, 'gateway.yaml'));
    assert.equal(broken.status, 1);
    assert.equal(broken.stdout, '');
    assert.match(broken.stderr, /httproute\.yaml:19:11 HTTPRoute\/default\/http-mirror: spec\.rules\[0\]\.filters\[0\]\.requestMirror\.backendRef: ResolvedRefs=False, reason BackendNotFound: Service default\/backend-2 not found \[SP016\]/);
    assert.match(broken.stderr, /not converted: 2 errors\n$/);
    const wrong = cli('convert', seed, '--from', 'apisix');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /is a Kubernetes object, not apisix \(--from apisix\) \[SP015\]/);
    for (const args of [['convert'], ['convert', seed, '--from', 'nginx'], ['convert', seed, '--listen-address', 'localhost']]) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^shadowplane: .*\nusage:/);
    }
  });

  it('render reads a folder of imported documents: the resources of its golden files; v1beta1 Gateway and HTTPRoute render the same; errors at file:line:col', async () => {
    const seed = 'configs/imports/gateway-api/seed-002';
    const golden = (format: string, name: string): Record<string, unknown> =>
      Object.fromEntries(['listeners', 'routes', 'clusters', 'endpoints'].map((t) => [t, JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/golden/imports', format, name, `${t}.json`), 'utf8'))]));
    const r = cli('render', seed);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), golden('gateway-api', 'seed-002'));
    const apisix = cli('render', 'configs/imports/apisix/seed-004-standalone', '--format', 'yaml');
    assert.equal(apisix.status, 0, apisix.stderr);
    assert.deepEqual(parse(apisix.stdout), golden('apisix', 'seed-004-standalone'));
    // The same documents with the Gateway and HTTPRoute at v1beta1.
    const beta = path.join(dir, 'seed-002-v1beta1');
    await mkdir(beta);
    for (const f of await readdir(path.join(REPO_ROOT, seed))) {
      const text = await readFile(path.join(REPO_ROOT, seed, f), 'utf8');
      await writeFile(path.join(beta, f), text.replace(/^apiVersion: gateway\.networking\.k8s\.io\/v1\n(kind: (?:Gateway|HTTPRoute)\n)/gm, 'apiVersion: gateway.networking.k8s.io/v1beta1\n$1'));
    }
    assert.match(await readFile(path.join(beta, 'httproute.yaml'), 'utf8'), /^apiVersion: gateway\.networking\.k8s\.io\/v1beta1\nkind: HTTPRoute$/m);
    assert.match(await readFile(path.join(beta, 'gateway.yaml'), 'utf8'), /^apiVersion: gateway\.networking\.k8s\.io\/v1beta1\nkind: Gateway$/m);
    const rb = cli('render', beta, '--listen-address', '127.0.0.1');
    assert.equal(rb.status, 0, rb.stderr);
    assert.deepEqual(JSON.parse(rb.stdout), JSON.parse(cli('render', seed, '--listen-address', '127.0.0.1').stdout));
    // A folder whose route names a Service it does not hold: nothing rendered, the problem at its place.
    await rm(path.join(beta, 'backend-2.yaml'));
    const broken = cli('render', beta);
    assert.equal(broken.status, 1);
    assert.equal(broken.stdout, '');
    const expected = `${path.join(beta, 'httproute.yaml')}:19:11 HTTPRoute/default/http-mirror: spec.rules[0].filters[0].requestMirror.backendRef: ResolvedRefs=False, reason BackendNotFound: Service default/backend-2 not found [SP016]`;
    assert.ok(broken.stderr.split('\n').includes(expected), broken.stderr);
  });

  it('--version prints the package version', () => {
    const r = cli('--version');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `shadowplane ${(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('bad flag values are one clear line and exit 2, never a stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['bootstrap', '--xds', 'foo', '--node-id', 'x'], /^shadowplane: --xds must be host:port, not "foo"\n/],
      [['serve', '--config', 'configs/sandbox.yaml', '--log-level', 'loud'], /^shadowplane: --log-level must be one of .*not "loud"\n/],
      [['serve', '--config', 'configs/sandbox.yaml', '--admin-token-file', path.join(dir, 'missing-token')], /^shadowplane: cannot read --admin-token-file .*missing-token: ENOENT\n/],
      [['proxy', '--xds', 'foo', '--node-id', 'x'], /^shadowplane: --xds must be host:port, not "foo"\n/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${args.join(' ')} printed a stack trace`);
    }
  });

  it('a port in use is one line naming the port and what wanted it, exit 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const cases: Array<[string[], string]> = [
        [['serve', '--config', 'configs/sandbox.yaml', '--xds', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0', '--log-level', 'silent'], 'xDS'],
        [['serve', '--config', 'configs/sandbox.yaml', '--xds', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`, '--log-level', 'silent'], 'the admin endpoint'],
        [['proxy', '--xds', '127.0.0.1:9', '--node-id', 'x', '--admin', `127.0.0.1:${port}`, '--log-level', 'silent'], 'the proxy admin endpoint'],
      ];
      for (const [args, what] of cases) {
        const r = cli(...args);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, `shadowplane: cannot listen on 127.0.0.1:${port} for ${what}: address already in use (another process holds it; pick another port)\n`);
      }
    } finally {
      taken.close();
    }
  });
});
