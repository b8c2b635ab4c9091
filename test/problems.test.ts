// Every problem code is stable and documented in README.md's tables, and every code the README
// documents still exists: config problems (SP…) and the data plane's refusals (DP…).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { ProblemCode } from '../src/config/problems.js';
import { DataPlaneErrorCode } from '../src/proxy/index.js';
import { REPO_ROOT } from './helpers/repo.js';

const codes: string[] = [...Object.values(ProblemCode), ...Object.values(DataPlaneErrorCode)];
const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

it('every problem code is unique and has a row in the README', () => {
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.match(readme, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `README.md has no row for ${code}`);
});

it('the README documents no code that does not exist', () => {
  const documented = [...readme.matchAll(/^\| `([A-Z]+\d+)` \|/gm)].map((m) => m[1]!);
  assert.ok(documented.length >= codes.length, 'the README tables were not found');
  assert.deepEqual(documented.filter((c) => !codes.includes(c)), []);
});
