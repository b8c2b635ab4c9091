// The shape of the code, as a table: which folder of src/ may import which. Data flows one way,
// config → model → translate → xds → server, and proxy reads Envoy resources only; envoy-api,
// json-path, safe-regex, tls, memo and store (the etcd client the config source reads through)
// are leaves; nothing imports cli. A folder not in the table fails the test
// until it is placed in it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers/repo.js';

/** Folder → the folders of src/ its files may import (besides their own). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'json-path': [],
  'safe-regex': [],
  'envoy-api': [],
  tls: [],
  memo: [],
  store: [],
  config: ['envoy-api', 'json-path', 'safe-regex', 'memo', 'store'],
  model: ['config', 'envoy-api', 'memo'],
  translate: ['model', 'config', 'envoy-api', 'memo'],
  xds: ['translate', 'model', 'envoy-api', 'safe-regex', 'tls', 'memo'],
  'xds-client': ['envoy-api'],
  proxy: ['envoy-api', 'json-path', 'safe-regex'],
  server: ['xds', 'xds-client', 'proxy', 'translate', 'model', 'config', 'envoy-api', 'tls'],
  sandbox: ['server', 'proxy', 'translate', 'config', 'envoy-api', 'tls'],
  cli: ['sandbox', 'server', 'xds', 'xds-client', 'proxy', 'translate', 'model', 'config', 'envoy-api', 'json-path', 'safe-regex', 'tls'],
};

/** Outside src/proxy, the data path is used through its entry only. */
const PROXY_ENTRY = 'src/proxy/index.ts';

const SRC = path.join(REPO_ROOT, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

/** Every relative import of a file, resolved to a path relative to the repo. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(SPECIFIER)]
    .map((m) => m[1] ?? m[2] ?? m[3]!)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(REPO_ROOT, path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts'))));
}

const folderOf = (repoPath: string): string | undefined => (repoPath.startsWith('src/') ? repoPath.split('/')[1] : undefined);

describe('layering', () => {
  it('the table is one-directional: no folder reaches itself through others', () => {
    const visit = (from: string, seen: readonly string[]): void => {
      for (const to of ALLOWED[from] ?? []) {
        assert.ok(!seen.includes(to), `cycle: ${[...seen, to].join(' → ')}`);
        visit(to, [...seen, to]);
      }
    };
    for (const f of Object.keys(ALLOWED)) visit(f, [f]);
    for (const [f, tos] of Object.entries(ALLOWED)) {
      for (const to of tos) assert.ok(to in ALLOWED, `${f} names unknown folder ${to}`);
      assert.ok(!tos.includes('cli'), `${f} may not import cli`);
    }
  });

  it('every folder of src/ has a row, and no file lies at the top of src/', () => {
    for (const entry of readdirSync(SRC)) {
      const isDir = statSync(path.join(SRC, entry)).isDirectory();
      assert.ok(isDir, `src/${entry}: put it in a folder`);
      assert.ok(entry in ALLOWED, `src/${entry} has no row in the table in test/layering.test.ts`);
    }
  });

  it('src/ imports only what the table allows, and the data path only through its entry', () => {
    const wrong: string[] = [];
    for (const file of tsFiles(SRC)) {
      const rel = path.relative(REPO_ROOT, file);
      const from = folderOf(rel)!;
      for (const target of imports(file)) {
        const to = folderOf(target);
        if (to === undefined) wrong.push(`${rel} imports ${target}, outside src/`);
        else if (to !== from && !ALLOWED[from]!.includes(to)) wrong.push(`${rel} imports ${target} (${from} may not import ${to})`);
        else if (to === 'proxy' && from !== 'proxy' && target !== PROXY_ENTRY) wrong.push(`${rel} imports ${target} (outside src/proxy, import ${PROXY_ENTRY})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('tests and benchmarks never import cli (they run it as a process, or use server/)', () => {
    const wrong: string[] = [];
    for (const dir of ['test', 'bench']) {
      for (const file of tsFiles(path.join(REPO_ROOT, dir))) {
        for (const target of imports(file)) if (target.startsWith('src/cli/')) wrong.push(`${path.relative(REPO_ROOT, file)} imports ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
