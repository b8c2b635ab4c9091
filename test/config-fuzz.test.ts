// Seeded fuzzing of config input: mutations of the example configs (characters, YAML tokens,
// anchors and aliases, duplicated, deleted and re-indented lines) through `shadowplane validate` and
// `PUT /config`. Every input is either applied whole or rejected with a problem list at
// file:line:col: never a 5xx, a stack trace or a half-applied config. A failure prints the seed and
// the case. FUZZ_CASES (default 2000) and FUZZ_SEED choose the run; `npm run fuzz:long` runs 10k.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { exampleConfigs, REPO_ROOT } from './helpers/repo.js';
import { seededRandom } from './helpers/seeded-random.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

const YAML_TOKENS = ['&a ', '*a', '*ahttpbin', '<<: *a', '!!str ', '!!binary ', '!custom ', '? ', '---\n', '...\n', '- ', ': ', '{', '}', '[', ']', '|', '>', "'", '"', '#', '%YAML 1.2\n', '\t', '~', 'null', '1e309', '-1', '0x10', '.inf', ''];
const CHARS = ':-[]{}&*!|>\'"#%@,?\n\t abcxyz019.\\/';

type Mutation = (lines: string[], r: () => number) => string;

const pick = <T>(list: readonly T[], r: () => number): T => list[Math.floor(r() * list.length)]!;

const MUTATIONS: Record<string, Mutation> = {
  char(lines, r) {
    const text = lines.join('\n');
    const at = Math.floor(r() * (text.length + 1));
    const kind = r();
    const c = pick([...CHARS], r);
    if (kind < 0.33) return text.slice(0, at) + c + text.slice(at);
    if (kind < 0.66) return text.slice(0, at) + text.slice(at + 1);
    return text.slice(0, at) + c + text.slice(at + 1);
  },
  token(lines, r) {
    const i = Math.floor(r() * lines.length);
    const line = lines[i]!;
    const at = Math.floor(r() * (line.length + 1));
    lines[i] = line.slice(0, at) + pick(YAML_TOKENS, r) + line.slice(at);
    return lines.join('\n');
  },
  alias(lines, r) {
    // An anchor on one value and an alias to it on another, in either order (or no anchor at all).
    const values = lines.map((l, i) => ({ l, i })).filter(({ l }) => /:\s+\S/.test(l));
    if (values.length < 2) return lines.join('\n');
    const a = pick(values, r);
    const b = pick(values, r);
    if (r() < 0.7) lines[a.i] = a.l.replace(/:\s+/, ': &x ');
    lines[b.i] = b.l.replace(/:\s+.*$/, r() < 0.5 ? ': *x' : ': *ahttpbin');
    return lines.join('\n');
  },
  duplicateLine(lines, r) {
    const i = Math.floor(r() * lines.length);
    lines.splice(i, 0, lines[i]!);
    return lines.join('\n');
  },
  deleteLine(lines, r) {
    lines.splice(Math.floor(r() * lines.length), 1);
    return lines.join('\n');
  },
  indent(lines, r) {
    const i = Math.floor(r() * lines.length);
    lines[i] = r() < 0.5 ? `  ${lines[i]}` : lines[i]!.replace(/^ {1,2}/, '');
    return lines.join('\n');
  },
  number(lines, r) {
    const text = lines.join('\n');
    const numbers = [...text.matchAll(/\b\d+(\.\d+)?\b/g)];
    if (numbers.length === 0) return text;
    const m = pick(numbers, r);
    return text.slice(0, m.index) + pick(['0', '-1', '65536', '99999999999999999999', '1e309', '0.5', '100.00001', 'NaN'], r) + text.slice(m.index! + m[0].length);
  },
};

interface Case {
  readonly n: number;
  readonly source: string;
  readonly mutations: readonly string[];
  readonly text: string;
}

/** Inputs that once slipped through (empty documents answered with no problem, or a misleading one): every run starts with them. */
function seedInputs(sandbox: string): Array<readonly [name: string, text: string]> {
  return [
    ['two empty documents', '---\n---\n'],
    ['documents of nulls', '~\n---\n~\n'],
    ['one "---"', '---\n'],
    ['a config and a trailing "---"', `${sandbox}---\n`],
    ['"---" around a config', `---\n---\n${sandbox}---\n~\n`],
  ];
}

function cases(count: number, seed: number): Case[] {
  const r = seededRandom(seed);
  const sources = exampleConfigs().map((f) => ({ file: f, text: readFileSync(path.join(REPO_ROOT, f), 'utf8') }));
  const sandbox = sources.find((x) => x.file === path.join('configs', 'sandbox.yaml'))!;
  const seeds = seedInputs(sandbox.text).map(([name, text], n): Case => ({ n, source: sandbox.file, mutations: [`seed: ${name}`], text }));
  const names = Object.keys(MUTATIONS);
  const generated = Array.from({ length: count }, (_, i): Case => {
    const source = pick(sources, r);
    let text = source.text;
    const mutations: string[] = [];
    const k = 1 + Math.floor(r() * 3);
    for (let j = 0; j < k; j++) {
      const name = pick(names, r);
      mutations.push(name);
      text = MUTATIONS[name]!(text.split('\n'), r);
    }
    return { n: seeds.length + i, source: source.file, mutations, text };
  });
  return [...seeds, ...generated];
}

const describeCase = (c: Case): string => `seed ${SEED}, case ${c.n} (${c.source}, ${c.mutations.join(' + ')}):\n${c.text}`;

/** What follows the file name in a problem line: `:LINE:COL path: message [SPnnn]`, or `: message [SPnnn]` when it has no place. */
const PROBLEM_REST = /^(?::(?<line>\d+):(?<col>\d+))?[ :].* \[SP\d{3}\]$/;
const STACK_TRACE = /^\s+at .+[:(]\d+|^\w*Error\b|Node\.js v\d/m;

describe(`config fuzzing (${CASES} cases, seed ${SEED})`, () => {
  const all = cases(CASES, SEED);
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-fuzz-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('`shadowplane validate` answers every case with "ok" or problems at file:line:col, never a stack trace', async () => {
    const files = await Promise.all(all.map(async (c) => {
      const file = path.join(dir, `case-${c.n}.yaml`);
      await writeFile(file, c.text);
      return file;
    }));
    let rejected = 0;
    for (let start = 0; start < files.length; start += 500) {
      const batch = files.slice(start, start + 500);
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'validate', ...batch], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      assert.ok(r.status === 0 || r.status === 1, `validate exited ${r.status}:\n${r.stderr.slice(-2000)}`);
      assert.doesNotMatch(r.stderr, STACK_TRACE, `a stack trace in batch from case ${start}:\n${r.stderr.slice(-3000)}`);
      for (const [i, file] of batch.entries()) {
        const c = all[start + i]!;
        const ok = r.stdout.includes(`${file}: ok (`);
        const problems = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`) && !l.startsWith(`${file}: rejected`));
        if (ok) continue;
        rejected++;
        assert.ok(r.stderr.includes(`${file}: rejected with`), `neither ok nor rejected: ${describeCase(c)}`);
        const errors = problems.filter((l) => !/: warning: /.test(l));
        assert.ok(errors.length > 0, `rejected without a problem: ${describeCase(c)}`);
        for (const line of errors) {
          const m = PROBLEM_REST.exec(line.slice(file.length));
          assert.ok(m, `not a problem line: ${line}\n${describeCase(c)}`);
          if (!line.endsWith('[SP301]')) assert.ok(Number(m.groups!.line) >= 1 && Number(m.groups!.col) >= 1, `no line:col in ${line}\n${describeCase(c)}`);
        }
      }
    }
    assert.ok(rejected > CASES / 10, `the mutations should break most files (${rejected} of ${CASES} rejected)`);
  });

  describe('PUT /config', () => {
    let cp: TestControlPlane;
    before(async () => {
      cp = await startControlPlane(readFileSync(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8'), { token: 'fuzz' });
    });
    after(() => cp?.stop());

    it('applies each case whole (200) or rejects it whole (422, problems at the body\'s line:col), never a 5xx', async () => {
      let applied = 0;
      for (const c of all) {
        const before = cp.controlPlane.cache.configVersion;
        const fileBefore = await readFile(cp.configFile, 'utf8');
        const res = await fetch(`http://127.0.0.1:${cp.adminPort}/config`, { method: 'PUT', body: c.text, headers: { authorization: 'Bearer fuzz' } });
        const body = (await res.json()) as { problems?: string[]; configVersion?: number };
        assert.ok(res.status === 200 || res.status === 422, `HTTP ${res.status} ${JSON.stringify(body)}: ${describeCase(c)}`);
        if (res.status === 200) {
          applied++;
          assert.equal(body.configVersion, before + 1, `applied but not published: ${describeCase(c)}`);
          assert.equal(await readFile(cp.configFile, 'utf8'), c.text, `applied but not written: ${describeCase(c)}`);
        } else {
          assert.ok(body.problems && body.problems.length > 0, `422 without problems: ${describeCase(c)}`);
          // Every problem cites the body's line:col, as validate does; only SP301 (the compiled
          // resources' own check) has no place in the YAML.
          for (const p of body.problems) {
            const placed = /^PUT \/config body:[1-9]\d*:[1-9]\d*[ :]/.test(p);
            assert.ok(placed || (/^PUT \/config body: /.test(p) && p.endsWith('[SP301]')), `no line:col in ${p}\n${describeCase(c)}`);
          }
          assert.equal(cp.controlPlane.cache.configVersion, before, `rejected but published: ${describeCase(c)}`);
          assert.equal(await readFile(cp.configFile, 'utf8'), fileBefore, `rejected but written: ${describeCase(c)}`);
        }
      }
      assert.ok(applied > 0, 'some mutations (comments, reordering) leave a valid config');
    });
  });
});
