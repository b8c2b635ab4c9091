// One node:http server per listener address. A reconcile opens the addresses that are new first (all
// or nothing: a bind failure closes what it opened and changes nothing), then drains the ones that
// are gone. An address that stays keeps its socket and its connections.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ListenerSpec } from './data-plane-config.js';
import type { ResourceProblem } from './errors.js';

/** Envoy's default max_request_headers_kb. */
const MAX_REQUEST_HEADER_BYTES = 60 * 1024;

export type RequestHandler = (listenerKey: string, req: IncomingMessage, res: ServerResponse) => void;

export interface BoundListener {
  readonly name: string;
  readonly host: string;
  /** The bound port (differs from the configured one when that was 0). */
  readonly port: number;
}

export function listenerKey(l: { readonly host: string; readonly port: number }): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

/** Answers on the raw socket, for requests node's parser refused before any handler saw them. */
function rawReply(socket: Socket, status: string, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const type = body === '' ? '' : 'content-type: text/plain\r\n';
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${type}connection: close\r\n\r\n${body}`);
}

class ListenerServer {
  private active = 0;
  private idle: (() => void) | undefined;

  constructor(
    readonly key: string,
    readonly host: string,
    public name: string,
    private readonly server: Server,
  ) {}

  static async open(spec: ListenerSpec, handler: RequestHandler, logger: Logger): Promise<ListenerServer> {
    const key = listenerKey(spec);
    const server = createServer({ maxHeaderSize: MAX_REQUEST_HEADER_BYTES });
    const self = new ListenerServer(key, spec.host, spec.name, server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      self.active++;
      res.on('close', self.requestDone); // 'close' comes once: no `once` wrapper per request
      try {
        handler(key, req, res);
      } catch (err) {
        // A bug must cost one request, not the process.
        logger.error({ err, listener: self.name }, 'request handler failed');
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-length': 0 }).end();
      }
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      logger.debug({ err, listener: self.name }, 'malformed request');
      if (err.code === 'HPE_HEADER_OVERFLOW') rawReply(socket, '431 Request Header Fields Too Large', 'Request Header Fields Too Large');
      else if (err.code === 'ECONNRESET') socket.destroy();
      else rawReply(socket, '400 Bad Request', 'Bad Request');
    });
    // No route here carries a CONNECT matcher, and the connection manager allows no upgrades.
    server.on('connect', (_req: IncomingMessage, socket: Socket) => rawReply(socket, '404 Not Found', ''));
    server.on('upgrade', (_req: IncomingMessage, socket: Socket) => rawReply(socket, '403 Forbidden', ''));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.host, port: spec.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => logger.error({ err, listener: self.name }, 'listener error'));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private readonly requestDone = (): void => {
    this.active--;
    if (this.active === 0) this.idle?.();
  };

  /** Stops accepting, lets requests in flight finish (at most `graceMs`), then closes every connection. */
  async drain(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.server.closeAllConnections();
    await closed;
  }
}

export class ListenerSet {
  private servers = new Map<string, ListenerServer>();

  constructor(
    private readonly handler: RequestHandler,
    private readonly logger: Logger,
    private readonly drainMs: number,
  ) {}

  /** Makes the open listeners match `specs`; returns the bind problems, having changed nothing if there are any. */
  async reconcile(specs: readonly ListenerSpec[]): Promise<ResourceProblem[]> {
    const wanted = new Map(specs.map((s) => [listenerKey(s), s]));
    const opened: ListenerServer[] = [];
    const problems: ResourceProblem[] = [];
    for (const [key, spec] of wanted) {
      if (this.servers.has(key)) continue;
      try {
        opened.push(await ListenerServer.open(spec, this.handler, this.logger));
      } catch (e) {
        problems.push({ path: `listener "${spec.name}"`, message: `cannot bind ${key}: ${(e as Error).message}` });
      }
    }
    if (problems.length > 0) {
      await Promise.all(opened.map((s) => s.drain(0)));
      return problems;
    }
    for (const s of opened) this.servers.set(s.key, s);
    for (const [key, server] of this.servers) {
      const spec = wanted.get(key);
      if (spec) server.name = spec.name;
      else {
        this.servers.delete(key);
        this.logger.info({ listener: server.name, address: key }, 'listener removed; draining');
        void server.drain(this.drainMs);
      }
    }
    return [];
  }

  bound(): BoundListener[] {
    return [...this.servers.values()].map((s) => ({ name: s.name, host: s.host, port: s.port }));
  }

  async close(graceMs: number): Promise<void> {
    const all = [...this.servers.values()];
    this.servers = new Map();
    await Promise.all(all.map((s) => s.drain(graceMs)));
  }
}
