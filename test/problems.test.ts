// Every problem code is stable and documented in README.md's table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { ProblemCode } from '../src/config/problems.js';
import { REPO_ROOT } from './helpers/repo.js';

it('every problem code is unique and has a row in the README', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const codes = Object.values(ProblemCode);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.match(readme, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `README.md has no row for ${code}`);
});
