// `shadowplane get --config LOCATION` and `shadowplane apply FILE --config LOCATION`: the config as
// its source stores it, read and written without a running control plane, through the same source
// `serve` reads (an etcd key every replica watches, or a file). A write is validated here first and
// always guarded: by If-Match, as PUT /config is, or by If-None-Match: * when the etcd key was empty
// (a file source checks If-Match only: a file that does not exist yet is written as it is).
import { readFile } from 'node:fs/promises';
import type { ConfigSource, StoredConfig } from '../config/config-source.js';
import { EtcdUrlError, isEtcdUrl, parseEtcdUrl } from '../config/etcd-url.js';
import { writeGuarded } from '../config/guarded-write.js';
import { parseConfigText, type LoadOptions } from '../config/load.js';
import { openConfigSource } from '../config/open-config-source.js';
import { reportProblems } from './compile.js';
import { UsageError, type Io } from './output.js';

/** --config as get and apply take it; an etcd:// URL that cannot be used is a usage error. */
export function configLocation(config: string | undefined, command: string): string {
  if (config === undefined) throw new UsageError(`${command} needs --config etcd://HOST:PORT[,HOST:PORT…]/KEY (or a FILE)`);
  if (isEtcdUrl(config)) {
    try {
      parseEtcdUrl(config);
    } catch (e) {
      if (e instanceof EtcdUrlError) throw new UsageError(`--config ${e.message}`);
      throw e;
    }
  }
  return config;
}

async function withSource<T>(location: string, load: LoadOptions, run: (s: ConfigSource) => Promise<T>): Promise<T> {
  // Nothing is served here: what the source reads is validated and dropped.
  const source = openConfigSource(location, () => [], load);
  try {
    return await run(source);
  } finally {
    await source.close();
  }
}

const versionOf = (s: StoredConfig): string => (s.revision !== undefined ? `revision ${s.revision}` : `etag ${s.etag}`);

/** Prints the stored text on stdout and its revision (etcd) or entity tag (a file) on stderr. */
export async function getCommand(o: { config?: string }, load: LoadOptions, io: Io): Promise<number> {
  const location = configLocation(o.config, 'get');
  return withSource(location, load, async (source) => {
    const r = await source.read();
    if (r.kind !== 'stored') {
      io.err(`shadowplane: ${r.message}\n`);
      return 1;
    }
    io.out(r.stored.text);
    io.err(`${versionOf(r.stored)}\n`);
    return 0;
  });
}

export interface ApplyOptions {
  readonly config?: string;
  /** Write only if the stored config is still this one (a revision or entity tag from `get`). */
  readonly ifMatch?: string;
}

/**
 * Validates FILE as `validate` does (nothing is written unless it is valid), then writes it guarded
 * by --if-match or, without it, by the revision read just before, or, when nothing was stored, on
 * condition that nothing is stored still (etcd: one transaction on the key's mod revision): a
 * concurrent edit is never overwritten, and of two first applies exactly one wins. 0 written (or
 * unchanged), 1 invalid, a conflict (with the current revision), or the store unreachable.
 */
export async function applyCommand(files: readonly string[], o: ApplyOptions, load: LoadOptions, io: Io): Promise<number> {
  if (files.length !== 1) throw new UsageError('apply takes exactly one FILE');
  const file = files[0]!;
  const location = configLocation(o.config, 'apply');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    io.err(`${file}: cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const parsed = parseConfigText(text, file, load);
  if (!parsed.ok) {
    reportProblems(parsed.problems, io);
    io.err(`${file}: rejected; nothing was written to ${location}\n`);
    return 1;
  }
  reportProblems(parsed.warnings, io);
  return withSource(location, load, async (source) => {
    const g = await writeGuarded(source, { text, reason: 'shadowplane apply', origin: file, ...(o.ifMatch !== undefined ? { ifMatch: o.ifMatch } : {}) });
    if (g.kind === 'unreadable') {
      io.err(`shadowplane: ${g.message}\n`);
      return 1;
    }
    if (g.kind === 'unchanged') {
      io.out(`${file}: unchanged (${location} ${versionOf(g.stored)})\n`);
      return 0;
    }
    const w = g.outcome;
    const ifMatch = g.ifMatch;
    switch (w.kind) {
      case 'written':
        io.out(`${file}: applied to ${location} as ${w.revision !== undefined ? `revision ${w.revision}` : `etag ${w.etag}`}\n`);
        return 0;
      case 'invalid':
        reportProblems(w.problems, io);
        io.err(`${file}: rejected; nothing was written to ${location}\n`);
        return 1;
      case 'conflict':
        io.err(
          `shadowplane: ${location} changed (${w.current ? `it is now ${versionOf(w.current)}` : 'it holds nothing now'}), ${ifMatch !== undefined ? `not ${ifMatch}` : 'it held nothing when read'}; nothing was written: get it, apply your edit to it, and apply again\n`,
        );
        return 1;
      case 'unavailable':
      case 'read-only':
        io.err(`shadowplane: ${w.message}\n`);
        return 1;
    }
  });
}
