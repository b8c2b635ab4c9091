// The documents an import reads: every YAML (or JSON) document of a file, or of every file in a
// folder, each kept with its yaml Document and LineCounter so a problem anywhere in it names
// file:line:col. A `kind: List` (what `kubectl get … -o yaml` prints for several objects) is opened
// into its items, each still placed in the file that holds it.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isScalar, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { positionOf } from '../positions.js';
import { ProblemCode, type ConfigProblem, type FieldPath, type ProblemCode as Code, type Severity } from '../problems.js';

/** One document of a source file. */
export interface SourceDocument {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** A place in a source document: an object inside it (`base`, e.g. ['items', 2] in a List) and the resource it belongs to. */
export interface SourceRef {
  readonly source: SourceDocument;
  readonly path: FieldPath;
  /** `HTTPRoute/default/http-mirror`; undefined before the resource is known. */
  readonly resource: string | undefined;
  /** The path as the user knows it, relative to the resource (a List item's own `spec.rules[0]`). */
  readonly shown: FieldPath;
}

/** A top-level object of the import: a document, or one item of a List document. */
export interface SourceObject {
  readonly value: unknown;
  readonly at: SourceRef;
}

export interface SourceText {
  readonly file: string;
  readonly text: string;
}

/** Files a folder contributes: YAML and JSON, not hidden (editors' and our own temporary files are). */
export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && /\.(ya?ml|json)$/i.test(name);
}

export function problemAt(at: SourceRef, code: Code, severity: Severity, message: string, atKey = false): ConfigProblem {
  const { line, col } = positionOf(at.source.doc, at.source.lines, at.path, atKey);
  return {
    code,
    severity,
    file: at.source.file,
    line,
    col,
    path: at.shown,
    message,
    ...(at.resource !== undefined ? { resource: at.resource } : {}),
  };
}

export function readProblem(file: string, e: unknown): ConfigProblem {
  const message = `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  return { code: ProblemCode.FILE_READ, severity: 'error', file, line: 0, col: 0, path: [], message };
}

/** The text of `target`: one file, or every config file directly in a folder (sorted by name). */
export async function readSourceTexts(target: string): Promise<{ texts: SourceText[]; problems: ConfigProblem[] }> {
  let isDir: boolean;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch (e) {
    return { texts: [], problems: [readProblem(target, e)] };
  }
  const files = isDir ? (await readdir(target)).filter(isConfigFileName).sort().map((f) => path.join(target, f)) : [target];
  const texts: SourceText[] = [];
  const problems: ConfigProblem[] = [];
  for (const file of files) {
    try {
      texts.push({ file, text: await readFile(file, 'utf8') });
    } catch (e) {
      problems.push(readProblem(file, e));
    }
  }
  if (isDir && files.length === 0) {
    problems.push({ code: ProblemCode.FILE_READ, severity: 'error', file: target, line: 0, col: 0, path: [], message: 'the folder holds no .yaml, .yml or .json file' });
  }
  return { texts, problems };
}

/** A document with nothing in it: a `---` with nothing after it, or only a null (`~`). */
export function isEmptyDocument(doc: Document): boolean {
  const c = doc.contents;
  return c === null || (isScalar(c) && c.value === null);
}

/** Every non-empty document of the text; YAML errors as problems at their line and column. */
export function parseSourceDocuments(t: SourceText): { documents: SourceDocument[]; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(t.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const all = Array.isArray(parsed) ? parsed : [];
  const problems: ConfigProblem[] = [];
  const documents: SourceDocument[] = [];
  for (const doc of all) {
    for (const e of [...doc.errors]) {
      const { line, col } = lines.linePos(e.pos[0]);
      problems.push({ code: ProblemCode.YAML_SYNTAX, severity: 'error', file: t.file, line, col, path: [], message: e.message.split('\n')[0]! });
    }
    if (doc.errors.length === 0 && !isEmptyDocument(doc)) documents.push({ file: t.file, doc, lines });
  }
  return { documents, problems };
}

/** The document's value; aliases resolve within the yaml package's limits (a problem otherwise). */
export function documentValue(d: SourceDocument): { value: unknown } | { problem: ConfigProblem } {
  try {
    return { value: d.doc.toJS({ maxAliasCount: 100 }) as unknown };
  } catch (e) {
    const { line, col } = positionOf(d.doc, d.lines, []);
    return { problem: { code: ProblemCode.YAML_SYNTAX, severity: 'error', file: d.file, line, col, path: [], message: (e as Error).message } };
  }
}

/** The document's top-level objects: itself, or the items of a `kind: List`; none for an empty document (a trailing `---`). */
export function sourceObjects(d: SourceDocument, value: unknown): SourceObject[] {
  if (value === null || value === undefined) return [];
  const root: SourceRef = { source: d, path: [], resource: undefined, shown: [] };
  const v = value as { apiVersion?: unknown; kind?: unknown; items?: unknown } | null;
  if (v && typeof v === 'object' && v.kind === 'List' && v.apiVersion === 'v1' && Array.isArray(v.items)) {
    return v.items.map((item: unknown, i) => ({ value: item, at: { source: d, path: ['items', i], resource: undefined, shown: [] } }));
  }
  return [{ value, at: root }];
}
