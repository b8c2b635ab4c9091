import type { Io } from './output.js';
import { UsageError } from './output.js';
import { compileFile } from './compile.js';
import { loadOptions, type LoadFlags } from './load-flags.js';

/** `shadowplane validate CONFIG…`: each file or folder on its own; 0 when every one is valid, 1 otherwise. */
export async function validateCommand(files: readonly string[], flags: LoadFlags, io: Io): Promise<number> {
  if (files.length === 0) throw new UsageError('validate needs at least one FILE or folder');
  const o = loadOptions(flags);
  let failed = 0;
  for (const file of files) {
    const model = await compileFile(file, io, o);
    if (!model) {
      failed++;
      continue;
    }
    const routes = model.listeners.reduce((n, l) => n + l.virtualHosts.reduce((m, v) => m + v.routes.length, 0), 0);
    const needs = model.minEnvoyVersion ? `, needs Envoy >= ${model.minEnvoyVersion}` : '';
    io.out(`${file}: ok (${model.listeners.length} listeners, ${routes} routes, ${model.clusters.length} clusters${needs})\n`);
  }
  return failed === 0 ? 0 : 1;
}
