// A config file, or a folder of files that make one config, that can change under us: watched
// (debounced, and robust to editors that save by atomic rename), reloaded on demand (SIGHUP), or
// (a single file) replaced through the admin API. Each accepted config is announced; a rejected one
// is announced with its problems and changes nothing.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { IncrementalParser } from './fast-parse.js';
import { isConfigFileName } from './formats/source.js';
import { loadConfigPath, parseConfigText, type LoadOptions, type LoadResult } from './load.js';
import type { ConfigProblem } from './problems.js';
import type { ConfigFile } from './schema.js';

export interface AcceptedConfig {
  readonly config: ConfigFile;
  readonly warnings: readonly ConfigProblem[];
  readonly hash: string;
  readonly reason: string;
}

export interface SourceEvents {
  accepted: [AcceptedConfig];
  rejected: [problems: readonly ConfigProblem[], reason: string];
  /** A reload found the config being served (a rejected edit undone, a file reformatted or saved again). */
  unchanged: [reason: string];
}

/** Decides whether a parsed config may be applied (the control plane checks more than the schema). */
export type Acceptor = (c: AcceptedConfig) => readonly ConfigProblem[];

/** How long an empty file may stay empty before it counts as the new config (and is rejected). */
const EMPTY_GRACE_MS = 1000;

async function isEmptyFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size === 0;
  } catch {
    return false; // gone or unreadable: reload reports it
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false; // missing or unreadable: the first reload reports it
  }
}

/** Each entry's hash, kept while the entry object lives: an edit hashes only the entries it changed. */
const entryHashes = new WeakMap<object, string>();

/** What the config means, as a hash: a reformatted file, or the watcher seeing our own write, hashes the same. */
function configHash(config: ConfigFile): string {
  const h = createHash('sha256');
  for (const [key, list] of Object.entries(config) as Array<[string, readonly object[]]>) {
    h.update(`${key}\0`);
    for (const entry of list) {
      let hash = entryHashes.get(entry);
      if (hash === undefined) {
        hash = createHash('sha256').update(JSON.stringify(entry)).digest('hex');
        entryHashes.set(entry, hash);
      }
      h.update(hash);
    }
  }
  return h.digest('hex').slice(0, 16);
}

export class ConfigFileSource extends EventEmitter<SourceEvents> {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Changes seen (watch events); a reload that started after the last one has caught up with them. */
  private changesSeen = 0;
  private changesApplied = 0;
  /** The watched file was empty when last read; it gets one more look before being rejected. */
  private emptySeen = false;
  private acceptedHash: string | undefined;
  /** Keeps the parts of the last text, so an edit is parsed and checked in proportion to its size. */
  private readonly fast = new IncrementalParser();
  /** Reloads run one at a time, so two quick edits cannot apply out of order. */
  private queue: Promise<unknown> = Promise.resolve();

  /** True when `file` names a folder: every config file in it, in any supported format, makes one config. */
  readonly isFolder: boolean;

  constructor(
    readonly file: string,
    private readonly accept: Acceptor,
    private readonly debounceMs = 100,
    private readonly options: LoadOptions = {},
  ) {
    super();
    this.isFolder = isDirectory(file);
  }

  /** Reads the file (or folder) now; resolves with what happened. */
  reload(reason: string): Promise<LoadResult> {
    const run = this.queue.then(async () => this.apply(await loadConfigPath(this.file, this.options, this.fast), reason, false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Validates `text` as the new config; only if valid, writes it to the file atomically and applies it.
   * `origin` names the text in problems (e.g. `PUT /config body`), whose lines are the text's own.
   * A folder has no one file to replace: the caller refuses it (see isFolder).
   */
  replace(text: string, reason: string, origin: string): Promise<LoadResult> {
    const run = this.queue.then(async () => {
      const result = this.apply(parseConfigText(text, origin, this.options, this.fast), reason, true);
      if (result.ok) {
        const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
        await writeFile(tmp, text);
        await rename(tmp, this.file);
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private apply(result: LoadResult, reason: string, force: boolean): LoadResult {
    if (!result.ok) {
      this.emit('rejected', result.problems, reason);
      return result;
    }
    const hash = configHash(result.config);
    if (!force && hash === this.acceptedHash) {
      this.emit('unchanged', reason);
      return result;
    }
    const accepted: AcceptedConfig = { config: result.config, warnings: result.warnings, hash, reason };
    const problems = this.accept(accepted);
    if (problems.length > 0) {
      this.emit('rejected', problems, reason);
      return { ok: false, problems };
    }
    this.acceptedHash = hash;
    this.emit('accepted', accepted);
    return result;
  }

  /**
   * Watches the file's directory (an atomic rename replaces the file's inode, which a file watch would
   * lose), or the folder itself: any config file in it added, changed or removed reloads the whole.
   */
  watch(): void {
    if (this.watcher) return;
    const base = path.basename(this.file);
    const dir = this.isFolder ? path.resolve(this.file) : path.dirname(path.resolve(this.file));
    this.watcher = watch(dir, (_event, name) => {
      if (name !== null && (this.isFolder ? !isConfigFileName(name.toString()) : name.toString() !== base)) return;
      this.emptySeen = false;
      this.schedule(this.debounceMs);
    });
  }

  /** A change of the file was seen and is not yet applied or rejected (`status --wait` waits for it). */
  get changing(): boolean {
    return this.changesApplied < this.changesSeen;
  }

  private schedule(delayMs: number): void {
    this.changesSeen++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reloadChanged(), delayMs);
  }

  /**
   * A writer that truncates and then writes (a shell's `>`) leaves the file empty for a moment. An
   * empty file (in a folder: any empty file, whose absence would otherwise drop its part of the
   * config) is read again after EMPTY_GRACE_MS (any further change restarts the wait), and is only
   * taken as it is then.
   */
  private async reloadChanged(): Promise<void> {
    if (!this.emptySeen && (await this.hasEmptyFile())) {
      this.emptySeen = true;
      this.schedule(EMPTY_GRACE_MS);
      return;
    }
    this.emptySeen = false;
    const seen = this.changesSeen;
    await this.reload('file changed');
    this.changesApplied = seen;
  }

  /** The file is empty, or (a folder) one of its config files is: a writer may be half-way. */
  private async hasEmptyFile(): Promise<boolean> {
    if (!this.isFolder) return isEmptyFile(this.file);
    const names = await readdir(this.file).catch(() => []);
    for (const name of names) if (isConfigFileName(name) && (await isEmptyFile(path.join(this.file, name)))) return true;
    return false;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
