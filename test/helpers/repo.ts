import { readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/sandbox/paths.js';

export { REPO_ROOT };

/** configs/*.yaml, the example configs every test covers. */
export function exampleConfigs(): string[] {
  return readdirSync(path.join(REPO_ROOT, 'configs'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join('configs', f));
}
