// Real Envoy's validate mode accepts every example config's rendered resources (embedded as static
// resources), those of every imported-format example, and the ADS bootstrap that `shadowplane
// bootstrap` prints; and it does reject a broken one, so these checks can fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile, loadConfigPath, parseConfig } from '../src/config/load.js';
import { canonicalResources } from '../src/envoy-api/resource-set.js';
import { buildModel } from '../src/model/build.js';
import { adsBootstrap, staticBootstrap } from '../src/translate/bootstrap.js';
import { translate } from '../src/translate/resources.js';
import { envoyValidate } from '../src/sandbox/envoy-process.js';
import { parse } from 'yaml';
import { requireEnvoy } from './helpers/envoy.js';
import { makeTestPki, type TestPki } from './helpers/pki.js';
import { exampleConfigs, importExamples, REPO_ROOT } from './helpers/repo.js';

describe('envoy --mode validate', () => {
  let dir = '';
  let pki: TestPki;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-validate-'));
    pki = await makeTestPki();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await pki.remove();
  });

  for (const config of exampleConfigs()) {
    it(`accepts ${config}`, async (t) => {
      const bin = requireEnvoy(t);
      if (!bin) return;
      const loaded = await loadConfigFile(path.join(REPO_ROOT, config));
      assert.ok(loaded.ok);
      const bootstrap = staticBootstrap(canonicalResources(translate(buildModel(loaded.config))), { nodeId: 'validate' });
      const r = await envoyValidate(bin, bootstrap, dir, path.basename(config, '.yaml'));
      assert.ok(r.ok, r.output);
    });
  }

  // Every imported-format example: the seeds' documents and the case folders the golden files cover.
  for (const e of importExamples()) {
    it(`accepts ${e.dir}`, async (t) => {
      const bin = requireEnvoy(t);
      if (!bin) return;
      const loaded = await loadConfigPath(path.join(REPO_ROOT, e.dir));
      assert.ok(loaded.ok, JSON.stringify(loaded.ok ? [] : loaded.problems));
      const bootstrap = staticBootstrap(canonicalResources(translate(buildModel(loaded.config))), { nodeId: 'validate' });
      const r = await envoyValidate(bin, bootstrap, dir, `${e.format}-${e.name}`);
      assert.ok(r.ok, r.output);
    });
  }

  it('accepts the ADS bootstrap, state of the world and delta, for one control plane and for a fleet of replicas (by address and by name, over mutual TLS)', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    for (const delta of [false, true]) {
      for (const xds of ['127.0.0.1:18000', '127.0.0.1:18001,127.0.0.1:18002,[::1]:18003', 'shadowplane.example:18000,127.0.0.1:18001']) {
        const b = adsBootstrap({ xds, nodeId: 'n', nodeCluster: 'c', adminPort: 19901, delta });
        const r = await envoyValidate(bin, b, dir, `ads-${delta}`);
        assert.ok(r.ok, `${xds}: ${r.output}`);
      }
    }
    const fleetTls = adsBootstrap({ xds: 'cp-0.example:18000,cp-1.example:18000', nodeId: 'node-a', tls: { caFile: pki.caFile, certFile: pki.nodeA.certFile, keyFile: pki.nodeA.keyFile } });
    const r = await envoyValidate(bin, fleetTls, dir, 'ads-fleet-tls');
    assert.ok(r.ok, r.output);
  });

  it('accepts what `shadowplane bootstrap` prints for mutual TLS, with and without --xds-sni', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    const tls = ['--xds-ca', pki.caFile, '--xds-client-cert', pki.nodeA.certFile, '--xds-client-key', pki.nodeA.keyFile];
    for (const [name, extra] of [['ip', []], ['sni', ['--xds-sni', 'control-plane.example']], ['delta', ['--delta']]] as const) {
      const out = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'bootstrap', '--xds', '127.0.0.1:18000', '--node-id', 'node-a', ...tls, ...extra], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const r = await envoyValidate(bin, parse(out.stdout), dir, `mtls-${name}`);
      assert.ok(r.ok, `${name}: ${r.output}`);
    }
  });

  it('rejects a TLS bootstrap whose certificate file is missing (validate reads the files)', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    const b = adsBootstrap({ xds: '127.0.0.1:18000', nodeId: 'n', tls: { caFile: pki.caFile, certFile: path.join(dir, 'missing.pem'), keyFile: pki.nodeA.keyFile } });
    const r = await envoyValidate(bin, b, dir, 'mtls-missing');
    assert.equal(r.ok, false);
    assert.match(r.output, /missing\.pem/);
  });

  it("accepts a mirror path's internal listener, which needs the bootstrap's internal_listener extension", async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    const r = parseConfig(
      `listeners:
  - name: front
    address: 127.0.0.1:10000
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes: [{ match: { prefix: / }, cluster: a, mirrors: [{ cluster: m, path: { value: /copies, mode: prefix } }] }]
clusters:
  - { name: a, endpoints: ["127.0.0.1:9000"] }
  - { name: m, endpoints: ["127.0.0.1:9001"], max_stream_duration: 2s }
`,
      'path.yaml',
    );
    assert.ok(r.ok);
    const bootstrap = staticBootstrap(canonicalResources(translate(buildModel(r.config))), { nodeId: 'validate' });
    const ok = await envoyValidate(bin, bootstrap, dir, 'mirror-path');
    assert.ok(ok.ok, ok.output);
    const { bootstrap_extensions: _extensions, ...without } = bootstrap;
    const refused = await envoyValidate(bin, without, dir, 'mirror-path-no-extension');
    assert.equal(refused.ok, false);
    assert.match(refused.output, /InternalListener bootstrap extension is mandatory/);
  });

  it('rejects a route that mirrors to a cluster it does not have (the check can fail)', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    const loaded = await loadConfigFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'));
    assert.ok(loaded.ok);
    const resources = canonicalResources(translate(buildModel(loaded.config)));
    const bootstrap = staticBootstrap({ ...resources, clusters: resources.clusters.filter((c) => c.name !== 'service1-mirror') }, { nodeId: 'v' });
    const r = await envoyValidate(bin, bootstrap, dir, 'broken');
    assert.equal(r.ok, false);
    assert.match(r.output, /unknown shadow cluster 'service1-mirror'/);
  });
});
