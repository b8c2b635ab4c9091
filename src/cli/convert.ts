// `shadowplane convert FILE… [--from F] [--listen-address IP[:PORT]]`: the shadowplane config that
// Gateway API, Istio or APISIX documents import to, as YAML a user can read, keep and edit.
import { convertedYaml } from '../config/formats/converted-yaml.js';
import { loadConfigSet } from '../config/load.js';
import { reportProblems } from './compile.js';
import { loadOptions, type LoadFlags } from './load-flags.js';
import { UsageError, type Io } from './output.js';

/** 0 when converted, 1 when the sources have errors (nothing is printed to stdout then). */
export async function convertCommand(files: readonly string[], flags: LoadFlags, io: Io): Promise<number> {
  if (files.length === 0) throw new UsageError('convert needs at least one FILE or folder');
  const result = await loadConfigSet(files, loadOptions(flags));
  if (!result.ok) {
    reportProblems(result.problems, io);
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    io.err(`${files.join(', ')}: not converted: ${errors} error${errors === 1 ? '' : 's'}\n`);
    return 1;
  }
  reportProblems(result.warnings, io);
  io.out(convertedYaml(result.imported?.config ?? result.config, result.imported?.origins, files));
  return 0;
}
