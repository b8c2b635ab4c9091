// Where the config comes from, as the control plane sees it: a file or folder on this machine
// (config-file-source.ts) or one key of an etcd cluster that several replicas share
// (etcd-config-source.ts). Every source validates what it reads the same way, announces each config
// it accepts or rejects, and guards a write with the entity tag of what it holds (If-Match).
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { LoadResult } from './load.js';
import type { ConfigProblem } from './problems.js';
import type { ConfigFile } from './schema.js';

export interface AcceptedConfig {
  readonly config: ConfigFile;
  readonly warnings: readonly ConfigProblem[];
  /** Hash of what the config means (not how it is written). */
  readonly hash: string;
  readonly reason: string;
  /** The store's revision of it (etcd's mod revision), the same in every replica; none for a file. */
  readonly revision?: number;
}

export interface SourceEvents {
  accepted: [AcceptedConfig];
  rejected: [problems: readonly ConfigProblem[], reason: string];
  /** A reload found the config being served (a rejected edit undone, a file reformatted or saved again). */
  unchanged: [reason: string];
  /** The store behind the source went down or came back. */
  store: [StoreHealth];
}

/** Decides whether a parsed config may be applied (the control plane checks more than the schema). */
export type Acceptor = (c: AcceptedConfig) => readonly ConfigProblem[];

/** The config text as stored, with its entity tag (`"…"`, quotes included). */
export interface StoredConfig {
  readonly text: string;
  readonly etag: string;
  /** etcd's mod revision of the key. */
  readonly revision?: number;
}

export interface WriteRequest {
  readonly text: string;
  /** The If-Match header as sent; undefined writes whatever is stored now. */
  readonly ifMatch?: string;
  /**
   * The If-None-Match header as sent (`*`: only while nothing is stored). Only a source that can
   * check it in the write itself honours it (etcd); the admin refuses it for the others.
   */
  readonly ifNoneMatch?: string;
  /** Why, for logs and status (`admin PUT /config`). */
  readonly reason: string;
  /** What names the text in problems (`PUT /config body`); their lines are the text's own. */
  readonly origin: string;
}

/** What became of a write; nothing is written unless `written`. */
export type WriteOutcome =
  | { readonly kind: 'written'; readonly etag: string; readonly revision?: number; readonly result: LoadResult & { ok: true } }
  /** The text is not a valid config (every problem), or the control plane refused it. */
  | { readonly kind: 'invalid'; readonly problems: readonly ConfigProblem[]; readonly storedAs?: string }
  /** If-Match named another version than the one stored: `current` is the one stored (undefined: nothing is). */
  | { readonly kind: 'conflict'; readonly current: StoredConfig | undefined }
  /** The store cannot be reached; nothing was written. */
  | { readonly kind: 'unavailable'; readonly message: string }
  /** This source takes no writes (a folder). */
  | { readonly kind: 'read-only'; readonly message: string };

/** A read that found nothing to return, or could not reach the store. */
export type ReadOutcome =
  | { readonly kind: 'stored'; readonly stored: StoredConfig }
  | { readonly kind: 'absent' | 'unavailable' | 'read-only'; readonly message: string };

/** Whether the store behind a source answers; a file has none. */
export interface StoreHealth {
  readonly state: 'up' | 'down';
  /** When it entered this state. */
  readonly since: string;
  /** Why it is down. */
  readonly error?: string;
}

/** What /status shows of the source. */
export interface SourceStatus {
  readonly kind: 'file' | 'folder' | 'etcd';
  /** The --config argument. */
  readonly location: string;
  readonly key?: string;
  readonly endpoints?: readonly string[];
  /** The last revision of the key this replica has read (accepted or rejected). */
  readonly revision?: number | null;
  readonly store?: StoreHealth;
}

export interface ConfigSource extends EventEmitter<SourceEvents> {
  /** The --config argument: a path, or an etcd:// URL. Problems name it as their file. */
  readonly location: string;
  /** A change was seen and is not yet applied or rejected (`status --wait` waits for it). */
  readonly changing: boolean;
  /** Reads the config the first time; false when the process cannot serve (a file that is not valid). */
  start(): Promise<boolean>;
  /** Follows changes from now on. */
  watch(): void;
  /** Reads it again now (SIGHUP). */
  reload(reason: string): Promise<unknown>;
  /** The stored text and its entity tag (GET /config). */
  read(): Promise<ReadOutcome>;
  /** Validates the text and, only if valid and If-Match holds, stores and applies it (PUT /config). */
  write(w: WriteRequest): Promise<WriteOutcome>;
  status(): SourceStatus;
  close(): Promise<void>;
}

/**
 * Whether an If-Match header value holds for what is stored (RFC 9110 §13.1.1: `*` matches anything
 * stored; tags compare strongly, so a weak `W/"…"` never matches). A bare tag without quotes is taken
 * as quoted, as people type it.
 */
export function ifMatchHolds(ifMatch: string, stored: StoredConfig | undefined): boolean {
  const tags = ifMatch.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (tags.includes('*')) return stored !== undefined;
  if (stored === undefined) return false;
  return tags.some((t) => !t.startsWith('W/') && quoteTag(t) === stored.etag);
}

/**
 * Whether an If-None-Match header value holds for what is stored (RFC 9110 §13.1.2: `*` only while
 * nothing is stored; tags compare weakly). A bare tag without quotes is taken as quoted.
 */
export function ifNoneMatchHolds(ifNoneMatch: string, stored: StoredConfig | undefined): boolean {
  const tags = ifNoneMatch.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (stored === undefined) return true;
  if (tags.includes('*')) return false;
  return !tags.some((t) => quoteTag(t.replace(/^W\//, '')) === stored.etag);
}

/** `abc` → `"abc"`; an already quoted tag stays. */
export function quoteTag(tag: string): string {
  return tag.startsWith('"') && tag.endsWith('"') && tag.length >= 2 ? tag : `"${tag}"`;
}

/** Each entry's hash, kept while the entry object lives: an edit hashes only the entries it changed. */
const entryHashes = new WeakMap<object, string>();

/** What a config means, as a hash (not how it is written): a reformatted text hashes the same. */
export function configHash(config: ConfigFile): string {
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

/** A short content hash of a text (a file's entity tag). */
export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
