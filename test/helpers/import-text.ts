// Imports in-memory files as one config set, the way a folder is read, for tables of documents and
// the problems (or config) they give.
import { importDocuments, type ImportOptions, type ImportResult } from '../../src/config/formats/import.js';
import { parseSourceDocuments } from '../../src/config/formats/source.js';
import { formatProblem, type ConfigProblem } from '../../src/config/problems.js';

export function importFiles(files: Readonly<Record<string, string>>, o: ImportOptions = {}): ImportResult {
  const parsed = Object.entries(files).map(([file, text]) => parseSourceDocuments({ file, text }));
  const problems = parsed.flatMap((p) => p.problems);
  if (problems.length > 0) return { ok: false, problems };
  return importDocuments(
    parsed.flatMap((p) => p.documents),
    { listen: { host: '127.0.0.1', port: undefined }, ...o },
  );
}

/** Every problem, formatted as the CLI prints it. */
export function problemLines(r: ImportResult): string[] {
  const list: readonly ConfigProblem[] = r.ok ? r.warnings : r.problems;
  return list.map(formatProblem);
}
