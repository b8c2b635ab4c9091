// Imports in-memory files as one config set, the way a folder is read, for tables of documents and
// the problems (or config) they give.
import assert from 'node:assert/strict';
import { it } from 'node:test';
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

/** One case of a refusal table: a name, the problem lines a set of documents gives, the line expected among them. */
export type ProblemCase = readonly [name: string, run: () => string[], expected: RegExp];

/** A test per case: some problem line matches what is expected. */
export function itFindsEach(cases: readonly ProblemCase[]): void {
  for (const [name, run, expected] of cases) {
    it(name, () => {
      const got = run();
      assert.ok(
        got.some((l) => expected.test(l)),
        `expected a problem matching ${expected}, got:\n${got.join('\n')}`,
      );
    });
  }
}
