// Reads a config file: YAML syntax, then schema, then cross-references. Every problem carries
// file:line:col found through the yaml package's LineCounter. The result is all or nothing.
import { readFile } from 'node:fs/promises';
import { CORE_SCHEMA, load as fastLoad } from 'js-yaml';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ProblemCode, type ConfigProblem, type FieldPath, type UnplacedProblem } from './problems.js';
import { configSchema, type ConfigFile } from './schema.js';
import { checkSemantics } from './semantic.js';

export type LoadResult =
  | { readonly ok: true; readonly config: ConfigFile; readonly warnings: readonly ConfigProblem[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

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

function place(file: string, doc: Document, lines: LineCounter, p: UnplacedProblem): ConfigProblem {
  const { node, keyNode } = locate(doc, p.path);
  const target = p.atKey && keyNode ? keyNode : node;
  const offset = target?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { code: p.code, severity: p.severity, file, line, col, path: p.path, message: p.message };
}

function schemaProblems(issues: readonly z.core.$ZodIssue[]): UnplacedProblem[] {
  return issues.flatMap((issue): UnplacedProblem[] => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({
        code: ProblemCode.SCHEMA,
        severity: 'error' as const,
        path: [...path, k],
        message: `unknown field "${k}"`,
        atKey: true,
      }));
    }
    const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    const message = missing ? `missing required field "${String(path.at(-1))}"` : issue.message;
    return [{ code: ProblemCode.SCHEMA, severity: 'error', path, message }];
  });
}

/** True when some object or array is reachable twice: YAML aliases, which the careful path limits. */
function sharesNodes(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (seen.has(value)) return true;
  seen.add(value);
  return Object.values(value).some((v) => sharesNodes(v, seen));
}

/**
 * The fast path: js-yaml (YAML 1.2 core schema, duplicate keys rejected) parses a large file several
 * times faster than the yaml package's Document. It only ever accepts: any error, warning or alias
 * sends the file through the careful path, which alone decides what is wrong and where.
 */
function parseClean(text: string): ConfigFile | undefined {
  let raw: unknown;
  try {
    raw = fastLoad(text, { schema: CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  if (sharesNodes(raw)) return undefined;
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success || checkSemantics(parsed.data).length > 0) return undefined;
  return parsed.data;
}

/** Aliases whose anchor is not defined before them: the yaml package parses them, then throws on use. */
function unresolvedAliases(doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Alias(_key, alias) {
      if (alias.resolve(doc) !== undefined) return;
      const { line, col } = lines.linePos(alias.range?.[0] ?? 0);
      problems.push({ code: ProblemCode.YAML_SYNTAX, severity: 'error', file, line, col, path: [], message: `unresolved alias *${alias.source}: no anchor &${alias.source} before it` });
    },
  });
  return problems;
}

/** Parses and checks config text; `file` only names it in problems. */
export function parseConfig(text: string, file: string): LoadResult {
  const clean = parseClean(text);
  if (clean) return { ok: true, config: clean, warnings: [] };
  return parseCarefully(text, file);
}

/** The yaml package's Document with a LineCounter: every problem gets its line and column. */
export function parseCarefully(text: string, file: string): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { code: ProblemCode.YAML_SYNTAX, severity: 'error', file, line, col, path: [], message: e.message.split('\n')[0]! };
      }),
    };
  }
  if (doc.contents === null) {
    return { ok: false, problems: [{ code: ProblemCode.SCHEMA, severity: 'error', file, line: 1, col: 1, path: [], message: 'the file is empty: a config needs listeners and clusters' }] };
  }
  const unresolved = unresolvedAliases(doc, lines, file);
  if (unresolved.length > 0) return { ok: false, problems: unresolved };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // The yaml package's own limits (e.g. an alias count that suggests a billion-laughs document).
    return { ok: false, problems: [{ code: ProblemCode.YAML_SYNTAX, severity: 'error', file, line: 1, col: 1, path: [], message: (e as Error).message }] };
  }
  const parsed = configSchema.safeParse(raw);
  const unplaced = parsed.success ? checkSemantics(parsed.data) : schemaProblems(parsed.error.issues);
  const placed = unplaced.map((p) => place(file, doc, lines, p)).sort((a, b) => a.line - b.line || a.col - b.col);
  const errors = placed.filter((p) => p.severity === 'error');
  if (!parsed.success || errors.length > 0) return { ok: false, problems: placed };
  return { ok: true, config: parsed.data, warnings: placed };
}

export async function loadConfigFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const message = `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    return { ok: false, problems: [{ code: ProblemCode.FILE_READ, severity: 'error', file, line: 0, col: 0, path: [], message }] };
  }
  return parseConfig(text, file);
}
