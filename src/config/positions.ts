// Where a field path lands in a YAML document: the line and column of its node, found through the
// yaml package's LineCounter, so every problem names file:line:col.
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { FieldPath } from './problems.js';

interface Located {
  readonly node: Node | undefined;
  readonly keyNode: Node | undefined;
}

/** The deepest node of the document along `path`, and the key node that names it. */
function locate(doc: Document, path: FieldPath): Located {
  let node: Node | undefined = doc.contents ?? undefined;
  let keyNode: Node | undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === part);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? keyNode;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      keyNode = undefined;
      node = item;
    } else {
      break;
    }
  }
  return { node, keyNode };
}

/** 1-based line and column of the node at `path` (of its key with `atKey`), or of the document start. */
export function positionOf(doc: Document, lines: LineCounter, path: FieldPath, atKey = false): { line: number; col: number } {
  const { node, keyNode } = locate(doc, path);
  const target = atKey && keyNode ? keyNode : node;
  return lines.linePos(target?.range?.[0] ?? doc.range?.[0] ?? 0);
}
