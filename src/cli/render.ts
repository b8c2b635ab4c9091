import { formatDocument } from '../envoy-api/document-format.js';
import { canonicalResources } from '../envoy-api/resource-set.js';
import { translate } from '../translate/resources.js';
import { compileFile } from './compile.js';
import { loadOptions, type LoadFlags } from './load-flags.js';
import { parseFormat, UsageError, type Io } from './output.js';

export interface RenderOptions {
  readonly node?: string;
  readonly nodeCluster?: string;
  readonly format?: string;
}

/** `shadowplane render FILE [--node ID] [--node-cluster C] [--format json|yaml]` */
export async function renderCommand(files: readonly string[], o: RenderOptions, flags: LoadFlags, io: Io): Promise<number> {
  if (files.length !== 1) throw new UsageError('render takes exactly one FILE or folder');
  const format = parseFormat(o.format, 'json');
  const model = await compileFile(files[0]!, io, loadOptions(flags));
  if (!model) return 1;
  const node = o.node !== undefined ? { id: o.node, ...(o.nodeCluster !== undefined ? { cluster: o.nodeCluster } : {}) } : undefined;
  io.out(formatDocument(canonicalResources(translate(model, node)), format));
  return 0;
}
