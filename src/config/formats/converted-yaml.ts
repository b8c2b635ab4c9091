// An imported config written as shadowplane YAML (what `convert` prints and the golden files keep):
// each listener, route, mirror and cluster the import noted gets a comment naming its source.
import { Document, isMap, isSeq, type Node } from 'yaml';
import { positionOf } from '../positions.js';
import { formatPath } from '../problems.js';
import type { ConfigFile } from '../schema.js';
import type { ImportedConfig } from './imported-config.js';

function annotate(node: Node | null | undefined, value: unknown, origins: ImportedConfig): void {
  if (typeof value !== 'object' || value === null || !node) return;
  const at = origins.origin(value);
  if (at) {
    const { line } = positionOf(at.source.doc, at.source.lines, at.path);
    const where = [at.resource, at.shown.length > 0 ? formatPath(at.shown) : undefined].filter((s) => s !== undefined).join(' ');
    node.commentBefore = where === '' ? ` from ${at.source.file}:${line}` : ` from ${where} (${at.source.file}:${line})`;
  }
  if (isSeq(node) && Array.isArray(value)) node.items.forEach((item, i) => annotate(item as Node, value[i], origins));
  else if (isMap(node)) {
    for (const pair of node.items) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (typeof key === 'string') annotate(pair.value as Node, (value as Record<string, unknown>)[key], origins);
    }
  }
}

/** The config as YAML; with `origins`, a comment before each part saying where it came from. */
export function convertedYaml(config: ConfigFile, origins: ImportedConfig | undefined, sources: readonly string[]): string {
  const doc = new Document(config, { aliasDuplicateObjects: false });
  doc.commentBefore = ` shadowplane config converted from ${sources.join(', ')} by \`shadowplane convert\``;
  if (origins) annotate(doc.contents, config, origins);
  return doc.toString({ lineWidth: 0 });
}
