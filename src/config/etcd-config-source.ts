// The config as one key of an etcd cluster that every replica of a fleet reads: `--config
// etcd://HOST:PORT[,HOST:PORT…]/KEY`. Each value the key takes is validated exactly as a file is and
// applied whole or rejected whole; its mod revision names it, the same in every replica. Changes
// come only through the watch, in revision order: when etcd comes back it resumes from the last
// revision seen and replays every edit since, so a replica that was cut off applies the same
// sequence as one that was not (a valid edit followed by an invalid one leaves the valid one
// served, not the one before both). A cheap quorum read once a second says whether the store
// answers. While it does not, the last good config keeps being served and writes are refused.
import { EventEmitter } from 'node:events';
import type { EtcdLocation } from './etcd-url.js';
import { formatEndpoint } from './etcd-url.js';
import {
  configHash,
  ifMatchHolds,
  ifNoneMatchHolds,
  type Acceptor,
  type ConfigSource,
  type ReadOutcome,
  type SourceEvents,
  type SourceStatus,
  type StoredConfig,
  type StoreHealth,
  type WriteOutcome,
  type WriteRequest,
} from './config-source.js';
import { IncrementalParser } from './fast-parse.js';
import { parseConfigText, type LoadOptions } from './load.js';
import { ProblemCode, type ConfigProblem } from './problems.js';
import { EtcdStore, type KeyValue, type KeyWatch } from '../store/etcd-store.js';

/** How often the store's health is probed while the key is watched. */
const PROBE_MS = 1000;

const storedOf = (kv: KeyValue): StoredConfig => ({ text: kv.value, etag: `"${kv.modRevision}"`, revision: kv.modRevision });

export class EtcdConfigSource extends EventEmitter<SourceEvents> implements ConfigSource {
  readonly changing = false;
  /** Keeps the parts of the last value, so an edit is parsed and checked in proportion to its size. */
  private readonly fast = new IncrementalParser();
  private store: Promise<EtcdStore> | undefined;
  /** The highest mod revision of the key looked at (applied or rejected). */
  private seen = 0;
  private accepted = 0;
  private lastRejection: { readonly revision: number; readonly problems: readonly ConfigProblem[] } | undefined;
  /** The revision at which an empty key was reported (once, until it holds a value again). */
  private absentReported: number | undefined;
  /** The cluster revision of the last successful read: a new watch starts after it. */
  private readAt = 0;
  private health: StoreHealth = { state: 'down', since: new Date().toISOString(), error: 'not connected yet' };
  private watching: KeyWatch | undefined;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    readonly where: EtcdLocation,
    private readonly accept: Acceptor,
    private readonly options: LoadOptions = {},
  ) {
    super();
  }

  get location(): string {
    return this.where.url;
  }

  private open(): Promise<EtcdStore> {
    this.store ??= EtcdStore.open(this.where.endpoints.map(formatEndpoint));
    return this.store;
  }

  /** Never refuses to start: without a value (or without etcd) it serves nothing until one arrives. */
  async start(): Promise<boolean> {
    await this.sync('startup');
    return true;
  }

  reload(reason: string): Promise<void> {
    return this.sync(reason);
  }

  watch(): void {
    if (this.watching || this.closed) return;
    void this.open().then((store) => {
      if (this.closed || this.watching) return;
      // From just after the last read (0, never read: from now on, and the first connect reads the key).
      const watching: KeyWatch = store.watch(this.where.key, this.readAt > 0 ? this.readAt + 1 : 0, {
        put: (kv) => this.take(kv, `etcd revision ${kv.modRevision}`),
        delete: (revision) => this.absent(revision),
        connected: () => {
          // Never read (etcd was down at start): the watch began at "now", so read what is there.
          void (this.readAt === 0 ? this.sync('etcd reachable') : this.probeHealth());
        },
        // A member went away: the store is down only if no quorum answers (the watch moves to another member).
        disconnected: () => void this.probeHealth(),
        ended: () => {
          if (this.watching !== watching) return;
          // The revision to resume from is gone (compacted): cancel this watch, read the key, then watch from there.
          this.watching = undefined;
          void watching.cancel().catch(() => undefined);
          void this.sync('etcd watch restarted').then(() => this.watch());
        },
      });
      this.watching = watching;
      this.probe ??= setInterval(() => void this.probeHealth(), PROBE_MS).unref();
    });
  }

  /** Whether a quorum answers, by counting the key (nothing of it is read or applied). */
  private async probeHealth(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await (await this.open()).ping(this.where.key);
      this.setHealth(undefined);
    } catch (e) {
      this.setHealth(e);
    } finally {
      this.probing = false;
    }
  }

  /** Reads the key and applies it if it is newer than what was seen (at start, and on SIGHUP). */
  private async sync(reason: string): Promise<void> {
    const store = await this.open();
    try {
      const r = await store.get(this.where.key);
      this.readAt = Math.max(this.readAt, r.revision);
      this.setHealth(undefined);
      if (r.kv) this.take(r.kv, reason);
      else this.absent(r.revision);
    } catch (e) {
      this.setHealth(e);
    }
  }

  /** Validates and applies one value of the key (`parsed`: already validated), unless a newer one was seen already. */
  private take(kv: KeyValue, reason: string, parsed = parseConfigText(kv.value, this.location, this.options, this.fast)): void {
    if (this.closed || kv.modRevision <= this.seen) return;
    this.seen = kv.modRevision;
    this.absentReported = undefined;
    let problems: readonly ConfigProblem[];
    if (parsed.ok) {
      const accepted = { config: parsed.config, warnings: parsed.warnings, hash: configHash(parsed.config), reason, revision: kv.modRevision };
      problems = this.accept(accepted);
      if (problems.length === 0) {
        this.accepted = kv.modRevision;
        this.emit('accepted', accepted);
        return;
      }
    } else {
      problems = parsed.problems;
    }
    this.lastRejection = { revision: kv.modRevision, problems };
    this.emit('rejected', problems, reason);
  }

  /** Nothing is stored at the key (never was, or it was deleted): the last good config stays. */
  private absent(revision: number): void {
    if (this.closed || this.absentReported !== undefined || revision < this.seen) return;
    this.absentReported = revision;
    this.seen = Math.max(this.seen, revision);
    const message =
      this.accepted > 0
        ? `the key ${this.where.key} was deleted (etcd revision ${revision}); the last good config keeps being served`
        : `no config is stored at the key ${this.where.key}: write one with shadowplane apply FILE --config ${this.location}, or PUT /config`;
    this.emit('rejected', [{ code: ProblemCode.FILE_READ, severity: 'error', file: this.location, line: 0, col: 0, path: [], message }], 'etcd key empty');
  }

  /** Up when the last call answered (a quorum did); the 'store' event says when that changes. */
  private setHealth(error: unknown): void {
    if (this.closed) return;
    const now = new Date().toISOString();
    if (error === undefined) {
      if (this.health.state === 'up') return;
      this.health = { state: 'up', since: now };
      this.emit('store', this.health);
      return;
    }
    const text = error instanceof Error ? error.message : String(error);
    if (this.health.state === 'down') {
      this.health = { ...this.health, error: text };
      return;
    }
    this.health = { state: 'down', since: now, error: text };
    this.emit('store', this.health);
  }

  async read(): Promise<ReadOutcome> {
    const store = await this.open();
    try {
      const r = await store.get(this.where.key);
      this.setHealth(undefined);
      return r.kv ? { kind: 'stored', stored: storedOf(r.kv) } : { kind: 'absent', message: `no config is stored at the key ${this.where.key} of ${this.location}` };
    } catch (e) {
      this.setHealth(e);
      return { kind: 'unavailable', message: this.unavailable(e) };
    }
  }

  /**
   * Validates the text, then writes it in one etcd transaction that holds only if the key is still at
   * the revision If-Match names, or (If-None-Match: *) still holds nothing, so of two writers quoting
   * one revision, or two creating the key, exactly one wins; and applies it here at once (the other
   * replicas get it from their watch). Without either, the write is unconditional.
   */
  async write(w: WriteRequest): Promise<WriteOutcome> {
    const parsed = parseConfigText(w.text, w.origin, this.options, this.fast);
    if (!parsed.ok) {
      this.emit('rejected', parsed.problems, w.reason);
      return { kind: 'invalid', problems: parsed.problems };
    }
    const store = await this.open();
    let revision: number;
    try {
      let guard: { modRevision: number } | undefined;
      if (w.ifMatch !== undefined || w.ifNoneMatch !== undefined) {
        const now = await store.get(this.where.key);
        const current = now.kv && storedOf(now.kv);
        if (w.ifMatch !== undefined && !ifMatchHolds(w.ifMatch, current)) return { kind: 'conflict', current };
        if (w.ifNoneMatch !== undefined && !ifNoneMatchHolds(w.ifNoneMatch, current)) return { kind: 'conflict', current };
        // What held for the key as read must still hold when the write lands (0: still no key).
        guard = { modRevision: now.kv?.modRevision ?? 0 };
      }
      const put = await store.put(this.where.key, w.text, guard);
      this.setHealth(undefined);
      if (!put.written) return { kind: 'conflict', current: put.current && storedOf(put.current) };
      revision = put.revision;
    } catch (e) {
      this.setHealth(e);
      return { kind: 'unavailable', message: `${this.unavailable(e)}; nothing was written` };
    }
    this.take({ value: w.text, modRevision: revision }, w.reason, parsed);
    const rejected = this.lastRejection?.revision === revision ? this.lastRejection : undefined;
    if (rejected) return { kind: 'invalid', problems: rejected.problems, storedAs: `"${revision}"` };
    return { kind: 'written', etag: `"${revision}"`, revision, result: parsed };
  }

  private unavailable(e: unknown): string {
    return `the config store cannot be reached: ${e instanceof Error ? e.message : String(e)}`;
  }

  status(): SourceStatus {
    return {
      kind: 'etcd',
      location: this.location,
      key: this.where.key,
      endpoints: this.where.endpoints.map(formatEndpoint),
      revision: this.seen > 0 ? this.seen : null,
      store: this.health,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probe);
    const watching = this.watching;
    this.watching = undefined;
    const store = await this.store?.catch(() => undefined);
    await watching?.cancel().catch(() => undefined);
    store?.close();
  }
}
