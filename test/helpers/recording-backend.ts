// A real HTTP server on loopback that records what it receives and answers with its name.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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

export async function startRecordingBackend(name: string): Promise<RecordingBackend> {
  const received: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let bodyLength = 0;
    req.on('data', (c: Buffer) => (bodyLength += c.length));
    req.on('end', () => {
      received.push({ method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers, bodyLength });
      for (const w of waiters) w();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(`Hello from behind shadowplane (${name})!\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    received,
    waitFor(count, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (received.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: expected ${count} requests, got ${received.length} within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
