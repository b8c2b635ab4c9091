// A write that never overwrites an edit it has not seen: guarded by the entity tag the caller read
// (If-Match), or by the one read just before writing, or, when nothing was stored, on condition that
// nothing is stored still (If-None-Match: *; an etcd source checks it in the write's own transaction).
// What `shadowplane apply` does to a config source.
import type { ConfigSource, StoredConfig, WriteOutcome, WriteRequest } from './config-source.js';

export interface GuardedWriteRequest {
  readonly text: string;
  readonly reason: string;
  readonly origin: string;
  /** Write only if the stored config is still this one; undefined: the one read just before writing. */
  readonly ifMatch?: string;
}

export type GuardedWriteOutcome =
  /** The source already holds this very text: nothing to write. */
  | { readonly kind: 'unchanged'; readonly stored: StoredConfig }
  /** The source could not be read (store down, or a folder). */
  | { readonly kind: 'unreadable'; readonly message: string }
  /** What the write did, and the guard it was made with. */
  | { readonly kind: 'wrote'; readonly outcome: WriteOutcome; readonly ifMatch?: string; readonly ifNoneMatch?: '*' };

export async function writeGuarded(source: ConfigSource, w: GuardedWriteRequest): Promise<GuardedWriteOutcome> {
  let ifMatch = w.ifMatch;
  let ifNoneMatch: '*' | undefined;
  if (ifMatch === undefined) {
    const now = await source.read();
    if (now.kind === 'unavailable' || now.kind === 'read-only') return { kind: 'unreadable', message: now.message };
    if (now.kind === 'stored' && now.stored.text === w.text) return { kind: 'unchanged', stored: now.stored };
    if (now.kind === 'stored') ifMatch = now.stored.etag;
    else ifNoneMatch = '*';
  }
  const request: WriteRequest = { text: w.text, reason: w.reason, origin: w.origin, ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
  const outcome = await source.write(request);
  return { kind: 'wrote', outcome, ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
}
