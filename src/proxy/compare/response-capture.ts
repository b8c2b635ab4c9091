// A bounded copy of a response as it streams past: status, the compared headers, the body up to the
// spec's max_body_bytes and a SHA-256 of the whole body. It only listens: the stream's reader (the
// client, or the drain of a copy) sets the pace, and nothing waits for the capture. Kept bytes are
// taken from a ByteBudget; when it is full the capture gives up rather than grow.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ByteBudget } from '../byte-budget.js';
import type { CompareSpec } from '../data-plane-config.js';

export interface CapturedResponse {
  readonly status: number;
  /** The compared headers that were present; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** The content type names JSON (application/json, application/*+json). */
  readonly json: boolean;
  /** The whole body, or null when it was longer than max_body_bytes. */
  readonly body: Buffer | null;
  readonly bodyBytes: number;
  readonly sha256: string;
}

const JSON_TYPE_RE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

export class ResponseCapture {
  /** The captured response, or undefined when it failed, was cut off or did not fit the budget. */
  readonly result: Promise<CapturedResponse | undefined>;
  private settle!: (r: CapturedResponse | undefined) => void;
  private state: 'waiting' | 'body' | 'settled' = 'waiting';
  private status = 0;
  private headers = new Map<string, string>();
  private json = false;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  /** null once the body is over max_body_bytes: from then on it is only hashed. */
  private chunks: Buffer[] | null = [];
  /** Bytes taken from the budget, given back by release(). */
  private held = 0;

  constructor(
    private readonly spec: CompareSpec,
    private readonly budget: ByteBudget,
  ) {
    this.result = new Promise((resolve) => (this.settle = resolve));
  }

  begin(status: number, headers: IncomingHttpHeaders): void {
    if (this.state !== 'waiting') return;
    this.state = 'body';
    this.status = status;
    for (const name of this.spec.headers) {
      const v = headerValue(headers[name]);
      if (v !== undefined) this.headers.set(name, v);
    }
    this.json = JSON_TYPE_RE.test(headerValue(headers['content-type']) ?? '');
  }

  add(chunk: Buffer): void {
    if (this.state !== 'body') return;
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.chunks === null) return;
    if (this.bytes > this.spec.maxBodyBytes) {
      this.chunks = null;
      this.release();
      return;
    }
    if (!this.budget.take(chunk.length)) return this.fail();
    this.held += chunk.length;
    // A copy: the stream's chunk may share memory with a larger read buffer.
    this.chunks.push(Buffer.from(chunk));
  }

  end(): void {
    if (this.state !== 'body') return;
    this.state = 'settled';
    const body = this.chunks && Buffer.concat(this.chunks, this.bytes);
    this.chunks = null;
    this.settle({ status: this.status, headers: this.headers, json: this.json, body, bodyBytes: this.bytes, sha256: this.hash.digest('hex') });
  }

  /** The response did not arrive whole: there is nothing to compare. */
  fail(): void {
    if (this.state === 'settled') return;
    this.state = 'settled';
    this.chunks = null;
    this.release();
    this.settle(undefined);
  }

  /** Gives the kept bytes back to the budget; the comparison calls it once it is done with the body. */
  release(): void {
    this.budget.give(this.held);
    this.held = 0;
  }
}

/**
 * The primary's response, offered to each comparison of the request. Captures are added when the
 * copies are dispatched, before the primary can have answered; one added later gets nothing.
 */
export class ResponseTap {
  private captures: ResponseCapture[] | null = null;
  private started = false;

  capture(spec: CompareSpec, budget: ByteBudget): ResponseCapture {
    const c = new ResponseCapture(spec, budget);
    if (this.started) c.fail();
    else (this.captures ??= []).push(c);
    return c;
  }

  /** The response is being relayed: its status and headers, then each chunk of its body, go to every capture too. */
  begin(status: number, headers: IncomingHttpHeaders): void {
    this.started = true;
    if (this.captures) for (const c of this.captures) c.begin(status, headers);
  }

  add(chunk: Buffer): void {
    if (this.captures) for (const c of this.captures) c.add(chunk);
  }

  end(): void {
    if (this.captures) for (const c of this.captures) c.end();
  }

  /** The exchange is over; a capture that has not ended never will. */
  close(): void {
    this.started = true;
    if (this.captures) for (const c of this.captures) c.fail();
  }
}
