// bench/RESULTS.md holds the main benchmark run (bench/run.ts rewrites it whole) and sections other
// scripts own (e.g. the long edit sequence), each between `<!-- section:NAME -->` markers: a script
// replaces only its own section, and the main run keeps the others. Within the main run, the parts a
// single benchmark writes (`<!-- part:NAME -->`) let `npm run bench -- --only=…` replace just those.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../src/sandbox/paths.js';

export const RESULTS_FILE = path.join(REPO_ROOT, 'bench/RESULTS.md');

const SECTION = /<!-- section:([\w-]+) -->\n[\s\S]*?<!-- \/section:\1 -->\n?/g;

function current(): string {
  return existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : '# Benchmark results\n';
}

/** The marked sections of RESULTS.md, as they stand. */
export function ownedSections(): string[] {
  return [...current().matchAll(SECTION)].map((m) => m[0].endsWith('\n') ? m[0] : `${m[0]}\n`);
}

/** Writes `body` as section `name` of RESULTS.md, in place of its previous text (or at the end). */
export function writeSection(name: string, body: string): void {
  const text = current();
  const block = `<!-- section:${name} -->\n${body.trimEnd()}\n<!-- /section:${name} -->\n`;
  const existing = [...text.matchAll(SECTION)].find((m) => m[1] === name);
  writeFileSync(RESULTS_FILE, existing ? text.replace(existing[0], block) : `${text.trimEnd()}\n\n${block}`);
}

const PART = /<!-- part:([\w-]+) -->\n[\s\S]*?<!-- \/part:\1 -->\n?/g;

/** `body` between the markers of part `name`. */
export function part(name: string, body: readonly string[]): string[] {
  return [`<!-- part:${name} -->`, ...body, `<!-- /part:${name} -->`];
}

/** Part `name` of RESULTS.md as it stands, markers included, or undefined when it has none. */
export function previousPart(name: string): string[] | undefined {
  const found = [...current().matchAll(PART)].find((m) => m[1] === name);
  return found?.[0].trimEnd().split('\n');
}
