// The admin HTTP endpoint of a shadowplane process (loopback by default, HTTPS when given a
// certificate): health, readiness, Prometheus metrics and, with a built-in data plane in the process,
// its mirror response comparisons. A control plane adds its own routes (control-plane-admin.ts);
// `shadowplane proxy` serves only these. Who may call what is admin-access.ts: GETs are reads unless
// listed as public, anything else is a write.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ComparisonSummary } from '../proxy/index.js';
import type { CertificateFiles } from '../tls/certificate-files.js';
import type { AdminAccess } from './admin-access.js';
import { ListenError } from './listen-error.js';
import type { MetricsSource } from './metrics-source.js';

/** Answers one request; `url` is already parsed. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** Handlers by `METHOD /path`. */
export type AdminRoutes = Readonly<Record<string, AdminHandler>>;

export interface AdminOptions {
  /** What the endpoint is, for a port that cannot be bound; default "the admin endpoint". */
  readonly what?: string;
  /** What GET /metrics serves. */
  readonly metrics: MetricsSource;
  readonly logger: Logger;
  /** GET /readyz: 200 when this says nothing, else 503 with what it says (what the process waits for, or what is wrong). */
  readonly notReady: () => string | undefined;
  /** The built-in data plane's comparisons, when this process hosts one; otherwise GET /mirror_diffs is 404. */
  readonly comparisons?: () => Promise<ComparisonSummary>;
  /** The process's own routes (a control plane's status, config dump and PUT /config). */
  readonly routes?: AdminRoutes;
  /** Routes among `routes` anyone may GET (static files that carry no data). */
  readonly publicRoutes?: readonly string[];
  /** Who may read and write. */
  readonly access: AdminAccess;
  /** Serve HTTPS with this certificate (re-read when its files change). */
  readonly tls?: CertificateFiles;
}

const ALWAYS_PUBLIC = ['GET /healthz', 'GET /readyz'];

export function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

function unauthorized(res: ServerResponse, error: string): void {
  res.setHeader('www-authenticate', 'Bearer realm="shadowplane"');
  send(res, 401, { error });
}

export class AdminServer {
  private readonly server: Server;
  private readonly routes: AdminRoutes;
  private readonly publicRoutes: ReadonlySet<string>;
  private readonly onCertificate: ((u: { certificate: Buffer; privateKey: Buffer } | null) => void) | undefined;

  constructor(private readonly o: AdminOptions) {
    this.routes = {
      'GET /healthz': (_req, res) => send(res, 200, 'ok\n', 'text/plain'),
      'GET /readyz': (_req, res) => {
        const why = o.notReady();
        return why === undefined ? send(res, 200, 'ready\n', 'text/plain') : send(res, 503, `${why}\n`, 'text/plain');
      },
      'GET /metrics': async (_req, res) => send(res, 200, await o.metrics.text(), o.metrics.contentType),
      'GET /mirror_diffs': async (_req, res) =>
        o.comparisons ? send(res, 200, await o.comparisons()) : send(res, 404, { error: 'no built-in data plane runs here (serve --data-plane builtin)' }),
      ...o.routes,
    };
    this.publicRoutes = new Set([...ALWAYS_PUBLIC, ...(o.publicRoutes ?? [])]);
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => {
        o.logger.error({ err: e }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    };
    const pair = o.tls?.keyPair;
    if (o.tls && pair) {
      const server = createHttpsServer({ cert: pair.cert, key: pair.key }, onRequest);
      this.onCertificate = (u) => {
        if (u) server.setSecureContext({ cert: u.certificate, key: u.privateKey });
      };
      o.tls.addIdentityCertificateListener(this.onCertificate);
      this.server = server;
    } else {
      this.server = createServer(onRequest);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = `${req.method} ${url.pathname}`;
    const handler = Object.hasOwn(this.routes, route) ? this.routes[route] : undefined;
    if (!handler) return send(res, 404, { error: `no ${route}` });
    const access = this.o.access;
    if (!this.publicRoutes.has(route)) {
      if (req.method === 'GET') {
        if (!access.canRead(req.headers.authorization)) return unauthorized(res, 'this endpoint needs the read token: Authorization: Bearer <token>');
      } else {
        const write = access.canWrite(req.headers.authorization);
        if (write === 'disabled') return send(res, 403, { error: `${route} is disabled: start with --admin-token-file or SHADOWPLANE_ADMIN_TOKEN` });
        if (write === 'denied') return unauthorized(res, 'missing or wrong bearer token');
      }
    }
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
    if (this.onCertificate) this.o.tls?.removeIdentityCertificateListener(this.onCertificate);
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
