// Requests for the imported-format tests: one tagged request through a target, and what each
// recording backend saw of it (the primary, and the copies).
import { sleep } from '../../src/sandbox/wait.js';
import { send, startBackend, type Backend, type Received } from './proxy-harness.js';

export interface Hit {
  readonly status: number;
  /** Which backend answered (its `x-backend`), or null for a local reply. */
  readonly backend: string | null;
  /** What the answering backend received. */
  readonly primary: Received | undefined;
  /** The copies, by backend name. */
  readonly copies: Readonly<Record<string, Received>>;
}

export interface HitOptions {
  readonly host: string;
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  /** Wait for this many copies (and, for 0, a moment for an unexpected one). */
  readonly copies?: number;
}

export class Backends<N extends string> {
  private counter = 0;
  private constructor(readonly all: Readonly<Record<N, Backend>>) {}

  static async start<N extends string>(names: readonly N[]): Promise<Backends<N>> {
    const all = {} as Record<N, Backend>;
    for (const n of names) all[n] = await startBackend(n);
    return new Backends(all);
  }

  port(name: N): number {
    return this.all[name].port;
  }

  /** Sends one request with a unique tag to `port` and collects what every backend saw of it. */
  async hit(port: number, path: string, o: HitOptions): Promise<Hit> {
    const tag = `hit-${++this.counter}`;
    const res = await send(port, path, { method: o.method ?? 'GET', headers: { host: o.host, 'x-test-tag': tag, ...o.headers } });
    const tagged = (): Array<[string, Received]> =>
      Object.entries<Backend>(this.all).flatMap(([n, b]) => b.tagged(tag).map((r): [string, Received] => [n, r]));
    const backend = typeof res.headers['x-backend'] === 'string' ? res.headers['x-backend'] : null;
    const copiesSeen = (): number => tagged().filter(([n]) => n !== backend).length;
    const deadline = Date.now() + 3000;
    while (o.copies !== undefined && copiesSeen() < o.copies && Date.now() < deadline) await sleep(10);
    if (o.copies !== undefined) await sleep(o.copies === 0 ? 150 : 30);
    const seen = tagged();
    const primary = seen.find(([n]) => n === backend)?.[1];
    const copies = Object.fromEntries(seen.filter(([n, r]) => n !== backend || r !== primary));
    return { status: res.status, backend, primary, copies };
  }

  /** How many requests `name` has received. */
  count(name: N): number {
    return this.all[name].received.length;
  }

  async close(): Promise<void> {
    for (const b of Object.values<Backend>(this.all)) await b.close();
  }
}
