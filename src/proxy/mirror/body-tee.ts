// Streams a request body once from the client to the primary and to every copy. The primary gets
// backpressure (a slow primary pauses the client, as in any proxy); a copy never does: each copy may
// hold a bounded number of unread bytes, all copies together a global budget, and a copy that would
// go over is dropped. Nothing is buffered whole.
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { ByteBudget } from '../byte-budget.js';
import type { MirrorDropReason } from './drop-reason.js';

class CopyDroppedError extends Error {
  override readonly name = 'CopyDroppedError';
  constructor(readonly reason: MirrorDropReason) {
    super(`mirror copy dropped: ${reason}`);
  }
}

/** A copy's body: filled by the tee without ever refusing a chunk, read by the mirror's upstream request. */
export class CopyBody extends Readable {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private wanted = false;

  constructor(
    private readonly budget: ByteBudget,
    private readonly maxQueued: number,
    private readonly onDrop: (reason: MirrorDropReason) => void,
  ) {
    super();
  }

  offer(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.queued + chunk.length > this.maxQueued) return this.dropCopy('copy_buffer_full');
    if (!this.budget.take(chunk.length)) return this.dropCopy('global_buffer_full');
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.wanted) this.flush();
  }

  finish(): void {
    this.ended = true;
    if (this.wanted) this.flush();
  }

  get complete(): boolean {
    return this.ended;
  }

  /** Stops the copy: its upstream request fails with a CopyDroppedError. */
  dropCopy(reason: MirrorDropReason): void {
    if (this.destroyed) return;
    this.onDrop(reason);
    this.destroy(new CopyDroppedError(reason));
  }

  override _read(): void {
    this.wanted = true;
    this.flush();
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.queued -= chunk.length;
      this.budget.give(chunk.length);
      if (!this.push(chunk)) {
        this.wanted = false;
        return;
      }
    }
    if (this.ended) this.push(null);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.budget.give(this.queued);
    this.queue = [];
    this.queued = 0;
    callback(err);
  }
}

export class BodyTee {
  private readonly copies = new Set<CopyBody>();
  private done = false;

  /** `primary` is what the primary's upstream request reads. */
  constructor(
    private readonly source: IncomingMessage,
    readonly primary: PassThrough,
    private readonly onComplete: () => void,
  ) {}

  add(copy: CopyBody): void {
    this.copies.add(copy);
  }

  /** True once the whole body has been received from the client. */
  get complete(): boolean {
    return this.done;
  }

  start(): void {
    this.primary.on('drain', () => this.source.resume());
    this.source.on('data', (chunk: Buffer) => {
      for (const copy of this.copies) copy.offer(chunk);
      if (this.primary.destroyed) return;
      if (!this.primary.write(chunk)) this.source.pause();
    });
    this.source.on('end', () => {
      this.done = true;
      for (const copy of this.copies) copy.finish();
      this.primary.end();
      this.onComplete();
    });
  }

  /** The exchange is over before the body was: unfinished copies and the primary's body stop. */
  abandon(): void {
    if (this.done) return;
    for (const copy of this.copies) copy.dropCopy('request_incomplete');
    this.primary.destroy();
    // Read the rest and discard it, so a keep-alive connection can carry the next request.
    this.source.resume();
  }
}
