// Golden files: each example config's resources per type, as Envoy receives them.
// UPDATE_GOLDEN=1 rewrites them (npm run golden) and removes outputs of configs that no longer exist.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import { buildModel } from '../src/model/build.js';
import { canonicalResources } from '../src/envoy-api/resource-set.js';
import { translate } from '../src/translate/resources.js';
import { exampleConfigs, REPO_ROOT } from './helpers/repo.js';

const GOLDEN_DIR = path.join(REPO_ROOT, 'test/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const TYPES = ['listeners', 'routes', 'clusters', 'endpoints'] as const;

describe('golden resources per example config', () => {
  const configs = exampleConfigs();
  it('covers all four seed configs', () => assert.ok(configs.length >= 4, configs.join(', ')));

  for (const config of configs) {
    const name = path.basename(config, '.yaml');
    it(name, async () => {
      const loaded = await loadConfigFile(path.join(REPO_ROOT, config));
      assert.ok(loaded.ok, `${config} must be valid`);
      const resources = canonicalResources(translate(buildModel(loaded.config)));
      const dir = path.join(GOLDEN_DIR, name);
      if (UPDATE) mkdirSync(dir, { recursive: true });
      for (const type of TYPES) {
        const file = path.join(dir, `${type}.json`);
        const actual = `${JSON.stringify(resources[type], null, 2)}\n`;
        if (UPDATE) writeFileSync(file, actual);
        assert.ok(existsSync(file), `${file} is missing: run npm run golden`);
        assert.equal(actual, readFileSync(file, 'utf8'), `${config} ${type} differs from ${file} (npm run golden rewrites it)`);
      }
    });
  }

  it('has no golden output without a config', () => {
    const expected = new Set(configs.map((c) => path.basename(c, '.yaml')));
    for (const dir of readdirSync(GOLDEN_DIR)) {
      if (expected.has(dir)) continue;
      if (UPDATE) rmSync(path.join(GOLDEN_DIR, dir), { recursive: true });
      else assert.fail(`test/golden/${dir} has no configs/${dir}.yaml (npm run golden removes it)`);
    }
  });
});
