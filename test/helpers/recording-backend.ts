// A real HTTP server on loopback that records what it receives and answers with its name.
// The pieces every loopback test backend needs (listen, wait for arrivals, close) live here once;
// proxy-harness builds its backends from them too.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
}

export interface RecordingBackend {
  readonly name: string;
  readonly port: number;
  readonly received: ReceivedRequest[];
  /** Resolves once `count` requests have arrived, or rejects after `ms`. */
  waitFor(count: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** What a backend named `name` received, in order, and a way to wait until enough of it has arrived. */
export interface Arrivals<T> {
  readonly received: T[];
  record(r: T): void;
  /** Resolves once `count` received items pass `filter`, or rejects after `ms`. */
  waitFor(count: number, ms?: number, filter?: (r: T) => boolean): Promise<void>;
}

export function arrivals<T>(name: string): Arrivals<T> {
  const received: T[] = [];
  const waiters = new Set<() => void>();
  return {
    received,
    record(r) {
      received.push(r);
      for (const w of waiters) w();
    },
    // A closure, not a method using `this`: backends hand it on as their own waitFor.
    waitFor: (count, ms = 5000, filter = () => true) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (received.filter(filter).length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: expected ${count} requests, got ${received.filter(filter).length} within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

/** Listens on a free loopback port and resolves with it. */
export async function listenOnLoopback(server: NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes `server` without waiting for idle keep-alive connections to time out. */
export function closeServer(server: { closeAllConnections(): void; close(callback: () => void): unknown }): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startRecordingBackend(name: string): Promise<RecordingBackend> {
  const log = arrivals<ReceivedRequest>(name);
  const server: Server = createServer((req, res) => {
    let bodyLength = 0;
    req.on('data', (c: Buffer) => (bodyLength += c.length));
    req.on('end', () => {
      log.record({ method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers, bodyLength });
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(`Hello from behind shadowplane (${name})!\n`);
    });
  });
  const port = await listenOnLoopback(server);
  return {
    name,
    port,
    received: log.received,
    waitFor: log.waitFor,
    close: () => closeServer(server),
  };
}
