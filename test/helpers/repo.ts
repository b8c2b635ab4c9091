import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** configs/*.yaml, the example configs every test covers. */
export function exampleConfigs(): string[] {
  return readdirSync(path.join(REPO_ROOT, 'configs'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join('configs', f));
}
