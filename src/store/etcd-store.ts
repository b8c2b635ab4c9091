// One etcd cluster as a key-value store with revisions, over the etcd3 client (loaded on first use:
// it reads etcd's .proto files when imported, which takes most of a second). What the config source
// needs of it: a linearizable read with the revision it was made at, a write guarded by the key's mod
// revision (one transaction, so of two writers quoting the same revision exactly one wins), and a
// watch that resumes from the last revision it saw when the connection comes back.
import type { IBackoff } from 'cockatiel';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';

export interface KeyValue {
  readonly value: string;
  readonly modRevision: number;
}

export interface Read {
  /** The cluster's revision when it was read. */
  readonly revision: number;
  readonly kv: KeyValue | undefined;
}

/** Only if the key's mod revision is this (0: only if there is no such key). */
export interface WriteGuard {
  readonly modRevision: number;
}

export type PutResult = { readonly written: true; readonly revision: number } | { readonly written: false; readonly current: KeyValue | undefined };

/** etcd did not answer (no member reachable, no quorum, or too slow); nothing is known to have happened. */
export class StoreUnavailableError extends Error {
  constructor(
    readonly endpoints: readonly string[],
    cause: unknown,
  ) {
    super(`etcd (${endpoints.join(', ')}) did not answer: ${describe(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

function describe(e: unknown): string {
  // etcd3's circuit breaker skips members whose last calls failed, for a second.
  if ((e as { isBrokenCircuitError?: boolean }).isBrokenCircuitError) return 'no member answered its last calls';
  const text = e instanceof Error ? e.message : String(e);
  // What grpc-js wraps around the socket's own error says nothing here.
  return text
    .replace(/\. Resolution note: .*$/s, '')
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/^No connection established\. Last error: (Error: )?/, '');
}

export interface WatchHandlers {
  put(kv: KeyValue): void;
  delete(modRevision: number): void;
  /** The watch is (again) attached to a member. */
  connected(): void;
  disconnected(e: Error): void;
  /** etcd ended the watch (its start revision was compacted away): read the key again and watch anew. */
  ended(e: Error): void;
}

export interface KeyWatch {
  cancel(): Promise<void>;
}

/** How long a read or write may take before the store counts as unavailable. */
const CALL_TIMEOUT_MS = 5000;

const kvOf = (kv: IKeyValue): KeyValue => ({ value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) });

export class EtcdStore {
  private constructor(
    private readonly client: Etcd3,
    readonly endpoints: readonly string[],
  ) {}

  static async open(endpoints: readonly string[]): Promise<EtcdStore> {
    const [{ Etcd3, isRecoverableError }, { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry }] = await Promise.all([import('etcd3'), import('cockatiel')]);
    const client = new Etcd3({
      hosts: endpoints.map((e) => `http://${e}`),
      defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      // A member that failed is skipped for 1 s (etcd3's default is 5 s), and a call tries every
      // member once; a watch reconnects within a second of etcd coming back (the default waits up to 30 s).
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: endpoints.length }),
        // etcd3 types this as one backoff step; its own default, like this, is the factory of steps.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
      },
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 },
    });
    return new EtcdStore(client, endpoints);
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new StoreUnavailableError(this.endpoints, e);
    }
  }

  /** A linearizable read: what a majority of the members agree is there now. */
  get(key: string): Promise<Read> {
    return this.call(async () => {
      const r = await this.client.get(key).exec();
      return { revision: Number(r.header.revision), kv: r.kvs[0] && kvOf(r.kvs[0]) };
    });
  }

  /** A linearizable count of `key`: it answers only while a quorum does, and reads no value. */
  ping(key: string): Promise<void> {
    return this.call(async () => void (await this.client.getAll().inRange({ start: key, end: `${key}\0` }).count()));
  }

  /** Writes `value`; with a guard, only if the key is still at that mod revision (else what it holds now). */
  put(key: string, value: string, guard?: WriteGuard): Promise<PutResult> {
    return this.call(async (): Promise<PutResult> => {
      if (!guard) return { written: true, revision: Number((await this.client.put(key).value(value).exec()).header.revision) };
      const r = await this.client.if(key, 'Mod', '==', String(guard.modRevision)).then(this.client.put(key).value(value)).else(this.client.get(key)).commit();
      if (r.succeeded) return { written: true, revision: Number(r.header.revision) };
      const kv = r.responses[0]?.response_range?.kvs[0];
      return { written: false, current: kv && kvOf(kv) };
    });
  }

  /**
   * Watches `key` from `fromRevision` on; the watch reattaches (where it left off) whenever the
   * connection returns. Once cancelled (also after it ended) it calls no handler again.
   */
  watch(key: string, fromRevision: number, h: WatchHandlers): KeyWatch {
    const w: Watcher = this.client.watch().key(key).startRevision(String(fromRevision)).watcher();
    let live = true;
    let ended = false;
    w.on('connected', () => live && h.connected());
    w.on('disconnected', (e) => live && h.disconnected(new StoreUnavailableError(this.endpoints, e)));
    w.on('put', (kv) => live && h.put(kvOf(kv)));
    w.on('delete', (kv) => live && h.delete(Number(kv.mod_revision)));
    w.on('error', (e) => {
      ended = true;
      if (live) h.ended(e);
    });
    return {
      cancel: async () => {
        live = false;
        // etcd3 emits 'error' only for a watch etcd cancelled, after taking it off its list: asking
        // etcd3 to cancel it again would wait for an answer that never comes.
        if (!ended) await w.cancel();
      },
    };
  }

  close(): void {
    this.client.close();
  }
}
