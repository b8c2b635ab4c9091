// Reads a config file: YAML syntax, then schema, then cross-references. Every problem carries
// file:line:col found through the yaml package's LineCounter. The result is all or nothing.
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseAllDocuments, visit, type Document } from 'yaml';
import { detectLayout, endsWithApisixMarker } from './formats/detect.js';
import { importDocuments, type ImportOptions } from './formats/import.js';
import type { ImportedConfig } from './formats/imported-config.js';
import { documentValue, isEmptyDocument, parseSourceDocuments, readSourceTexts, type SourceDocument } from './formats/source.js';
import { positionOf } from './positions.js';
import { ProblemCode, type ConfigProblem, type FieldPath, type UnplacedProblem } from './problems.js';
import { schemaProblems } from './schema-problems.js';
import { configSchema, type ConfigFile } from './schema.js';
import { checkSemantics } from './semantic.js';
import { parseClean, type IncrementalParser } from './fast-parse.js';

export type LoadResult =
  | {
      readonly ok: true;
      readonly config: ConfigFile;
      readonly warnings: readonly ConfigProblem[];
      /** Set when the config was imported from other formats: what was built and where each part came from. */
      readonly imported?: { readonly config: ConfigFile; readonly origins: ImportedConfig };
    }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** How a path is read: which format to expect, and where imported listeners without an address bind. */
export type LoadOptions = ImportOptions;

function place(file: string, doc: Document, lines: LineCounter, p: UnplacedProblem): ConfigProblem {
  const { line, col } = positionOf(doc, lines, p.path, p.atKey);
  return { code: p.code, severity: p.severity, file, line, col, path: p.path, message: p.message };
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

function emptyFile(file: string): LoadResult {
  return { ok: false, problems: [{ code: ProblemCode.SCHEMA, severity: 'error', file, line: 1, col: 1, path: [], message: 'the file is empty: a config needs listeners and clusters' }] };
}

/** The yaml package's Document with a LineCounter: every problem gets its line and column. */
export function parseCarefully(text: string, file: string): LoadResult {
  const lines = new LineCounter();
  const all = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const docs = Array.isArray(all) ? all : [];
  const yamlErrors = docs.flatMap((d) => d.errors);
  if (yamlErrors.length > 0) {
    return {
      ok: false,
      problems: yamlErrors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { code: ProblemCode.YAML_SYNTAX, severity: 'error', file, line, col, path: [], message: e.message.split('\n')[0]! };
      }),
    };
  }
  // `---` lines around the config (a trailing one, or two in a row) leave empty documents: they say nothing.
  const [doc, another] = docs.filter((d) => !isEmptyDocument(d));
  if (!doc) return emptyFile(file);
  if (another) {
    const { line, col } = lines.linePos(another.contents?.range?.[0] ?? another.range[0]);
    return { ok: false, problems: [{ code: ProblemCode.YAML_SYNTAX, severity: 'error', file, line, col, path: [], message: 'a shadowplane config is one YAML document; this is a second one' }] };
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

/**
 * Config text of any supported format. shadowplane's own YAML keeps its fast path and its messages;
 * Kubernetes objects (Gateway API, Istio) and APISIX configurations are imported.
 */
export function parseConfigText(text: string, file: string, o: LoadOptions = {}, fast?: IncrementalParser): LoadResult {
  const own = o.from === undefined || o.from === 'shadowplane';
  if (own) {
    const clean = fast ? fast.parse(text) : parseClean(text);
    if (clean) return { ok: true, config: clean, warnings: [] };
  }
  const { documents, problems } = parseSourceDocuments({ file, text });
  if (problems.length > 0) return { ok: false, problems };
  if (documents.length === 0) return emptyFile(file);
  if (o.from === 'shadowplane' || (own && documents.length <= 1 && isOwnLayout(documents[0]))) return parseCarefully(text, file);
  return importDocuments(documents, o);
}

/** A lone document that is not a Kubernetes object or an APISIX configuration (by its keys or its `#END` line) is read as shadowplane's own. */
function isOwnLayout(d: SourceDocument | undefined): boolean {
  if (!d) return true;
  const v = documentValue(d);
  if ('problem' in v) return true;
  const layout = detectLayout(v.value, { endMarker: endsWithApisixMarker(d.doc) }).layout;
  return layout === 'shadowplane' || layout === 'unknown';
}

/** A config file, or a folder whose files (all of them, any format) make one config. */
/** `fast`: a parser kept across reloads of the same file, so an edit is parsed and checked in proportion to its size. */
export async function loadConfigPath(target: string, o: LoadOptions = {}, fast?: IncrementalParser): Promise<LoadResult> {
  let isDir = false;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch {
    // loadConfigFile reports it
  }
  return isDir ? loadConfigSet([target], o) : loadConfigFile(target, o, fast);
}

/**
 * Several files and folders read as one config (`convert FILE…`): a lone shadowplane document is
 * read as such; anything else is imported together, so a route and the Services it names may sit
 * in different files.
 */
export async function loadConfigSet(targets: readonly string[], o: LoadOptions = {}): Promise<LoadResult> {
  const read = await Promise.all(targets.map(readSourceTexts));
  const texts = read.flatMap((r) => r.texts);
  const parsed = texts.map(parseSourceDocuments);
  const problems = [...read.flatMap((r) => r.problems), ...parsed.flatMap((p) => p.problems)];
  if (problems.length > 0) return { ok: false, problems };
  const documents = parsed.flatMap((p) => p.documents);
  if (documents.length === 0 && texts.length > 1) return { ok: false, problems: texts.map((t) => emptyFile(t.file)).flatMap((r) => (r.ok ? [] : r.problems)) };
  const own = o.from === undefined || o.from === 'shadowplane';
  if (texts.length === 1 && (o.from === 'shadowplane' || (own && documents.length <= 1 && isOwnLayout(documents[0])))) {
    return parseConfigText(texts[0]!.text, texts[0]!.file, o);
  }
  return importDocuments(documents, o);
}

export async function loadConfigFile(file: string, o: LoadOptions = {}, fast?: IncrementalParser): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const message = `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    return { ok: false, problems: [{ code: ProblemCode.FILE_READ, severity: 'error', file, line: 0, col: 0, path: [], message }] };
  }
  return parseConfigText(text, file, o, fast);
}
