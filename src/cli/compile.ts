// The config → model → resources pipeline as the CLI commands share it.
import { loadConfigPath, type LoadOptions } from '../config/load.js';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import { buildModel } from '../model/build.js';
import type { Model } from '../model/types.js';
import type { Io } from './output.js';

export function reportProblems(problems: readonly ConfigProblem[], io: Io): void {
  for (const p of problems) io.err(`${formatProblem(p)}\n`);
}

/** The model of a config file or folder, or undefined after printing every problem. Warnings are printed either way. */
export async function compileFile(file: string, io: Io, o: LoadOptions = {}): Promise<Model | undefined> {
  const result = await loadConfigPath(file, o);
  if (!result.ok) {
    reportProblems(result.problems, io);
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    io.err(`${file}: rejected with ${errors} error${errors === 1 ? '' : 's'}; nothing was applied\n`);
    return undefined;
  }
  reportProblems(result.warnings, io);
  return buildModel(result.config);
}
