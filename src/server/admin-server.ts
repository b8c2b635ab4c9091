// The admin HTTP endpoint of a shadowplane process (loopback by default): health, readiness,
// Prometheus metrics and, with a built-in data plane in the process, its mirror response comparisons.
// A control plane adds its own routes (control-plane-admin.ts); `shadowplane proxy` serves only these.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ComparisonSummary } from '../proxy/index.js';
import { ListenError } from './listen-error.js';

/** Answers one request; `url` is already parsed. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** Handlers by `METHOD /path`. */
export type AdminRoutes = Readonly<Record<string, AdminHandler>>;

export interface AdminOptions {
  /** What the endpoint is, for a port that cannot be bound; default "the admin endpoint". */
  readonly what?: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** GET /readyz: 200 when this says nothing, else 503 with what it says (what the process waits for, or what is wrong). */
  readonly notReady: () => string | undefined;
  /** The built-in data plane's comparisons, when it runs in this process; otherwise GET /mirror_diffs is 404. */
  readonly comparisons?: () => ComparisonSummary;
  /** The process's own routes (a control plane's status, config dump and PUT /config). */
  readonly routes?: AdminRoutes;
}

export function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

export class AdminServer {
  private readonly server: Server;
  private readonly routes: AdminRoutes;

  constructor(private readonly o: AdminOptions) {
    this.routes = {
      'GET /healthz': (_req, res) => send(res, 200, 'ok\n', 'text/plain'),
      'GET /readyz': (_req, res) => {
        const why = o.notReady();
        return why === undefined ? send(res, 200, 'ready\n', 'text/plain') : send(res, 503, `${why}\n`, 'text/plain');
      },
      'GET /metrics': async (_req, res) => send(res, 200, await o.registry.metrics(), o.registry.contentType),
      'GET /mirror_diffs': (_req, res) =>
        o.comparisons ? send(res, 200, o.comparisons()) : send(res, 404, { error: 'no built-in data plane runs here (serve --data-plane builtin)' }),
      ...o.routes,
    };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        o.logger.error({ err: e }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = `${req.method} ${url.pathname}`;
    const handler = Object.hasOwn(this.routes, route) ? this.routes[route] : undefined;
    if (!handler) return send(res, 404, { error: `no ${route}` });
    await handler(req, res, url);
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) => reject(new ListenError(this.o.what ?? 'the admin endpoint', host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, e)));
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
