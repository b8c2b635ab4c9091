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

/** The imported-format examples: configs/imports/<format>/<name>/, each a folder read as one config. */
export function importExamples(): Array<{ readonly format: string; readonly name: string; readonly dir: string }> {
  const root = path.join(REPO_ROOT, 'configs/imports');
  return readdirSync(root)
    .sort()
    .flatMap((format) =>
      readdirSync(path.join(root, format))
        .sort()
        .map((name) => ({ format, name, dir: path.join('configs/imports', format, name) })),
    );
}
