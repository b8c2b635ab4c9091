// A config file cut into the parts that can be parsed on their own: each top-level key, and each
// entry of a top-level block sequence (a listener, a cluster). An edit usually changes one part, so
// the fast path parses and checks only the parts whose text is new (incremental-parse.ts).
//
// Why a part parses alone as it does in place: an entry is cut only at a line starting `- ` at the
// entry column, and every other line of it is indented deeper (or is blank or a comment). A block
// node of the entry (block scalars and multi-line plain scalars included) lives entirely on those
// deeper lines, so it ends where the entry ends in place too. A construct that would run past the
// cut (a quoted scalar, a flow collection) leaves the entry's own text unterminated, which does not
// parse alone, and so does an alias of another entry's anchor: the caller then parses the text whole.
// Refused outright: tabs, CR, a BOM, directives and document markers (anything at column 0 that is
// not a plain `key:` or an entry), a line less indented than its entry, and repeated top-level keys.

export interface YamlPart {
  /** The part's own text: an entry de-indented to start with `- `, or a whole `key: …` section. */
  readonly text: string;
}

export type YamlSection =
  | { readonly key: string; readonly kind: 'sequence'; readonly entries: readonly YamlPart[] }
  | { readonly key: string; readonly kind: 'whole'; readonly part: YamlPart };

const TOP_KEY = /^([A-Za-z_][A-Za-z0-9_-]*):(?:[ ]+(.*))?$/;
function indentOf(line: string): number {
  let i = 0;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return i;
}

/** Blank, or only a comment. */
function isFiller(line: string, indent: number): boolean {
  return indent === line.length || line.charCodeAt(indent) === 35; // '#'
}

/** Is this (de-indented) line the start of a block sequence entry? */
function isEntryStart(line: string, indent: number): boolean {
  return line.charCodeAt(indent) === 45 && (indent + 1 === line.length || line.charCodeAt(indent + 1) === 32); // '- '
}

interface OpenSection {
  key: string;
  /** Lines of a whole section, or the open entry's lines. */
  lines: string[];
  entries: YamlPart[];
  /** The column entries start at; -1 until the first entry, `whole` for a section read whole. */
  entryIndent: number | 'whole';
}

function closeEntry(s: OpenSection): void {
  if (s.entryIndent === 'whole' || s.lines.length === 0) return;
  const cut = s.entryIndent;
  s.entries.push({ text: `${s.lines.map((l) => (indentOf(l) >= cut ? l.slice(cut) : l.trimStart())).join('\n')}\n` });
  s.lines = [];
}

function closeSection(s: OpenSection, out: YamlSection[]): boolean {
  if (s.entryIndent === 'whole') {
    out.push({ key: s.key, kind: 'whole', part: { text: `${s.lines.join('\n')}\n` } });
    return true;
  }
  closeEntry(s);
  // A key with nothing under it is null, which a part cannot express as a sequence: parse it whole.
  if (s.entryIndent === -1) out.push({ key: s.key, kind: 'whole', part: { text: `${s.key}:\n` } });
  else out.push({ key: s.key, kind: 'sequence', entries: s.entries });
  return true;
}

/** The text's parts, or undefined when it is not of the narrow shape every part of which parses alone. */
export function splitYamlItems(text: string): YamlSection[] | undefined {
  if (text.includes('\t') || text.includes('\r') || text.charCodeAt(0) === 0xfeff) return undefined;
  const out: YamlSection[] = [];
  const seen = new Set<string>();
  let open: OpenSection | undefined;
  for (const line of text.split('\n')) {
    const indent = indentOf(line);
    if (isFiller(line, indent)) {
      // Comments and blank lines stay with what they follow; alone at the top they change nothing.
      if (open && (open.entryIndent === 'whole' || open.lines.length > 0)) open.lines.push(line);
      continue;
    }
    if (indent === 0 && !isEntryStart(line, 0)) {
      const m = TOP_KEY.exec(line);
      if (!m || seen.has(m[1]!)) return undefined;
      if (open) closeSection(open, out);
      seen.add(m[1]!);
      const inline = m[2] !== undefined && !m[2].startsWith('#');
      open = { key: m[1]!, lines: inline ? [line] : [], entries: [], entryIndent: inline ? 'whole' : -1 };
      continue;
    }
    if (!open) return undefined;
    if (open.entryIndent === 'whole') {
      if (indent === 0) return undefined;
      open.lines.push(line);
      continue;
    }
    if (open.entryIndent === -1) {
      // The section holds a mapping (or a scalar on the next line): one part, read whole.
      if (!isEntryStart(line, indent)) {
        if (indent === 0) return undefined;
        open.entryIndent = 'whole';
        open.lines = [`${open.key}:`, line];
        continue;
      }
      open.entryIndent = indent;
    }
    if (indent === open.entryIndent && isEntryStart(line, indent)) {
      closeEntry(open);
      open.lines.push(line);
    } else if (indent > open.entryIndent) {
      open.lines.push(line);
    } else {
      return undefined;
    }
  }
  if (open) closeSection(open, out);
  return out.length > 0 ? out : undefined;
}
