import { canonicalize } from '../envoy-api/proto-json.js';
import { translate, type EnvoyResources } from '../translate/resources.js';
import { compileFile } from './compile.js';
import { formatDocument, parseFormat, UsageError, type Io } from './output.js';

export interface RenderOptions {
  readonly node?: string;
  readonly nodeCluster?: string;
  readonly format?: string;
}

/** Each resource as Envoy receives it (encoded with Envoy's definitions and decoded back). */
export function canonicalResources(r: EnvoyResources): EnvoyResources {
  return {
    listeners: r.listeners.map((x) => canonicalize(x)),
    routes: r.routes.map((x) => canonicalize(x)),
    clusters: r.clusters.map((x) => canonicalize(x)),
    endpoints: r.endpoints.map((x) => canonicalize(x)),
  };
}

/** `shadowplane render FILE [--node ID] [--node-cluster C] [--format json|yaml]` */
export async function renderCommand(files: readonly string[], o: RenderOptions, io: Io): Promise<number> {
  if (files.length !== 1) throw new UsageError('render takes exactly one FILE');
  const format = parseFormat(o.format, 'json');
  const model = await compileFile(files[0]!, io);
  if (!model) return 1;
  const node = o.node !== undefined ? { id: o.node, ...(o.nodeCluster !== undefined ? { cluster: o.nodeCluster } : {}) } : undefined;
  io.out(formatDocument(canonicalResources(translate(model, node)), format));
  return 0;
}
