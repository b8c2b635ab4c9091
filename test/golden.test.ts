// Golden files: each example config's resources per type, as Envoy receives them; and for each
// imported-format example (configs/imports/<format>/<name>/), the shadowplane config it converts to
// and that config's resources, which must be what the documents compile to directly.
// UPDATE_GOLDEN=1 rewrites them (npm run golden) and removes outputs of configs that no longer exist.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { convertedYaml } from '../src/config/formats/converted-yaml.js';
import { loadConfigFile, loadConfigPath, parseConfig } from '../src/config/load.js';
import type { ConfigFile } from '../src/config/schema.js';
import { buildModel } from '../src/model/build.js';
import { canonicalResources } from '../src/envoy-api/resource-set.js';
import { translate } from '../src/translate/resources.js';
import { exampleConfigs, importExamples, REPO_ROOT } from './helpers/repo.js';

const GOLDEN_DIR = path.join(REPO_ROOT, 'test/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const TYPES = ['listeners', 'routes', 'clusters', 'endpoints'] as const;

/** Compares (or with UPDATE_GOLDEN writes) one golden file. */
function golden(file: string, actual: string, what: string): void {
  if (UPDATE) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.ok(existsSync(file), `${file} is missing: run npm run golden`);
  assert.equal(actual, readFileSync(file, 'utf8'), `${what} differs from ${file} (npm run golden rewrites it)`);
}

function goldenResources(config: ConfigFile, dir: string, what: string): void {
  const resources = canonicalResources(translate(buildModel(config)));
  for (const type of TYPES) golden(path.join(dir, `${type}.json`), `${JSON.stringify(resources[type], null, 2)}\n`, `${what} ${type}`);
}

/** Removes (with UPDATE_GOLDEN) or reports every entry of `dir` not in `expected`. */
function noStrays(dir: string, expected: ReadonlySet<string>, source: (entry: string) => string): void {
  for (const entry of readdirSync(dir)) {
    if (expected.has(entry)) continue;
    if (UPDATE) rmSync(path.join(dir, entry), { recursive: true });
    else assert.fail(`${path.relative(REPO_ROOT, path.join(dir, entry))} has no ${source(entry)} (npm run golden removes it)`);
  }
}

describe('golden resources per example config', () => {
  const configs = exampleConfigs();
  it('covers all four seed configs', () => assert.ok(configs.length >= 4, configs.join(', ')));

  for (const config of configs) {
    const name = path.basename(config, '.yaml');
    it(name, async () => {
      const loaded = await loadConfigFile(path.join(REPO_ROOT, config));
      assert.ok(loaded.ok, `${config} must be valid`);
      goldenResources(loaded.config, path.join(GOLDEN_DIR, name), config);
    });
  }

  it('has no golden output without a config', () => {
    noStrays(GOLDEN_DIR, new Set([...configs.map((c) => path.basename(c, '.yaml')), 'imports']), (d) => `configs/${d}.yaml`);
  });
});

describe('golden conversions per imported-format example: documents → shadowplane config → Envoy resources', () => {
  const examples = importExamples();
  it('covers APISIX, Gateway API and Istio', () => assert.deepEqual([...new Set(examples.map((e) => e.format))], ['apisix', 'gateway-api', 'istio']));

  for (const e of examples) {
    it(`${e.format}/${e.name}`, async () => {
      const loaded = await loadConfigPath(path.join(REPO_ROOT, e.dir));
      assert.ok(loaded.ok, `${e.dir} must import: ${loaded.ok ? '' : JSON.stringify(loaded.problems)}`);
      assert.ok(loaded.imported, `${e.dir} is imported, not shadowplane's own`);
      const dir = path.join(GOLDEN_DIR, 'imports', e.format, e.name);
      const yaml = convertedYaml(loaded.imported.config, loaded.imported.origins, [e.dir]).replaceAll(REPO_ROOT + path.sep, '');
      golden(path.join(dir, 'config.yaml'), yaml, `${e.dir} converted`);
      goldenResources(loaded.config, dir, e.dir);
      // The converted YAML is a shadowplane config of its own that compiles to the same resources.
      const reread = parseConfig(yaml, 'config.yaml');
      assert.ok(reread.ok, `the converted config must be valid: ${reread.ok ? '' : JSON.stringify(reread.problems)}`);
      assert.deepEqual(canonicalResources(translate(buildModel(reread.config))), canonicalResources(translate(buildModel(loaded.config))));
    });
  }

  it('has no golden output without an example', () => {
    const root = path.join(GOLDEN_DIR, 'imports');
    if (!existsSync(root)) return;
    const formats = new Set(examples.map((e) => e.format));
    noStrays(root, formats, (d) => `configs/imports/${d}`);
    for (const f of formats) noStrays(path.join(root, f), new Set(examples.filter((e) => e.format === f).map((e) => e.name)), (d) => `configs/imports/${f}/${d}`);
  });
});
