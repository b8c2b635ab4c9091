// A config file, or a folder of files that make one config, that can change under us: watched
// (debounced, and robust to editors that save by atomic rename), reloaded on demand (SIGHUP), or
// (a single file) replaced through the admin API, guarded by the entity tag of the file's bytes.
// Each accepted config is announced; a rejected one is announced with its problems and changes nothing.
import { EventEmitter } from 'node:events';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configHash, hashText, ifMatchHolds, type AcceptedConfig, type Acceptor, type ConfigSource, type ReadOutcome, type SourceEvents, type SourceStatus, type StoredConfig, type WriteOutcome, type WriteRequest } from './config-source.js';
import { IncrementalParser } from './fast-parse.js';
import { isConfigFileName } from './formats/source.js';
import { loadConfigPath, parseConfigText, type LoadOptions, type LoadResult } from './load.js';

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

/** The file as stored, its entity tag the hash of its bytes; undefined when there is none. */
async function storedFile(file: string): Promise<StoredConfig | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return { text, etag: `"${hashText(text)}"` };
  } catch {
    return undefined;
  }
}

export class ConfigFileSource extends EventEmitter<SourceEvents> implements ConfigSource {
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

  get location(): string {
    return this.file;
  }

  async start(): Promise<boolean> {
    return (await this.reload('startup')).ok;
  }

  /** Reads the file (or folder) now; resolves with what happened. */
  reload(reason: string): Promise<LoadResult> {
    return this.enqueue(async () => this.apply(await loadConfigPath(this.file, this.options, this.fast), reason, false));
  }

  /** Reloads, writes and checks run one at a time, so two quick edits cannot apply out of order. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  read(): Promise<ReadOutcome> {
    if (this.isFolder) return Promise.resolve({ kind: 'read-only', message: this.folderMessage('read') });
    return this.enqueue(async () => {
      const stored = await storedFile(this.file);
      return stored ? { kind: 'stored', stored } : { kind: 'absent', message: `${this.file} cannot be read` };
    });
  }

  /**
   * Validates the text as the new config; only if it is valid and If-Match holds for the file as it
   * is, writes it to the file atomically and applies it. A folder has no one file to replace.
   */
  write(w: WriteRequest): Promise<WriteOutcome> {
    if (this.isFolder) return Promise.resolve({ kind: 'read-only', message: this.folderMessage('edit') });
    return this.enqueue(async (): Promise<WriteOutcome> => {
      const parsed = parseConfigText(w.text, w.origin, this.options, this.fast);
      if (!parsed.ok) {
        this.emit('rejected', parsed.problems, w.reason);
        return { kind: 'invalid', problems: parsed.problems };
      }
      if (w.ifMatch !== undefined) {
        const current = await storedFile(this.file);
        if (!ifMatchHolds(w.ifMatch, current)) return { kind: 'conflict', current };
      }
      const result = this.apply(parsed, w.reason, true);
      if (!result.ok) return { kind: 'invalid', problems: result.problems };
      const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
      await writeFile(tmp, w.text);
      await rename(tmp, this.file);
      return { kind: 'written', etag: `"${hashText(w.text)}"`, result };
    });
  }

  private folderMessage(verb: 'read' | 'edit'): string {
    return `the config is the folder ${this.file}: ${verb} its files (every change is reloaded)`;
  }

  status(): SourceStatus {
    return { kind: this.isFolder ? 'folder' : 'file', location: this.file };
  }

  private apply(result: LoadResult, reason: string, force: boolean): LoadResult {
    if (!result.ok) {
      this.emit('rejected', result.problems, reason);
      return result;
    }
    // Hash what the text means, so a reformatted file or the watcher seeing our own write is a no-op.
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

  close(): Promise<void> {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    return Promise.resolve();
  }
}
