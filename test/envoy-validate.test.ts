// Real Envoy's validate mode accepts every example config's rendered resources (embedded as static
// resources) and the ADS bootstrap that `shadowplane bootstrap` prints; and it does reject a broken one,
// so these checks can fail.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import { canonicalResources } from '../src/envoy-api/resource-set.js';
import { buildModel } from '../src/model/build.js';
import { adsBootstrap, staticBootstrap } from '../src/translate/bootstrap.js';
import { translate } from '../src/translate/resources.js';
import { envoyValidate } from '../src/sandbox/envoy-process.js';
import { requireEnvoy } from './helpers/envoy.js';
import { exampleConfigs, REPO_ROOT } from './helpers/repo.js';

describe('envoy --mode validate', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-validate-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
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

  it('accepts the ADS bootstrap, state of the world and delta', async (t) => {
    const bin = requireEnvoy(t);
    if (!bin) return;
    for (const delta of [false, true]) {
      const b = adsBootstrap({ xds: '127.0.0.1:18000', nodeId: 'n', nodeCluster: 'c', adminPort: 19901, delta });
      const r = await envoyValidate(bin, b, dir, `ads-${delta}`);
      assert.ok(r.ok, r.output);
    }
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
