// The admin HTTP endpoint (loopback by default): health, readiness, per-proxy status, what a node is
// served, Prometheus metrics, replacing the config behind a bearer token, and with the built-in data
// plane in this process, its mirror response comparisons.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatProblem } from '../config/problems.js';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import type { ComparisonSummary } from '../proxy/index.js';
import { TYPE_SHORT_NAMES, type ServedTypeUrl } from '../xds/snapshot.js';
import type { ControlPlane } from './control-plane.js';
import { ListenError } from './listen-error.js';

export interface AdminOptions {
  readonly controlPlane: ControlPlane;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Bearer token for PUT /config; without one the endpoint is refused. */
  readonly token: string | undefined;
  /** Larger bodies are refused rather than buffered. */
  readonly maxConfigBytes?: number;
  /** The built-in data plane's comparisons, when it runs in this process; otherwise GET /mirror_diffs is 404. */
  readonly comparisons?: () => ComparisonSummary;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class AdminServer {
  private readonly server: Server;

  constructor(private readonly o: AdminOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        o.logger.error({ err: e }, 'admin request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
  }

  /** Everything, or with `node` only that proxy's records (cheap to poll with many proxies). */
  status(node?: string | null): object {
    const cp = this.o.controlPlane;
    const proxies = cp.ads.proxies.list().filter((p) => node === undefined || node === null || p.node?.id === node);
    return {
      configFile: cp.source.file,
      configVersion: cp.cache.configVersion,
      minEnvoyVersion: cp.model?.minEnvoyVersion ?? null,
      lastAccepted: cp.lastAccepted ?? null,
      lastRejected: cp.lastRejected ?? null,
      proxies: proxies.map((p) => p.toJSON()),
    };
  }

  private nodeFor(id: string, cluster: string | null): NodeInfo {
    const connected = this.o.controlPlane.ads.proxies.list().find((p) => p.node?.id === id)?.node;
    return connected ?? { id, cluster: cluster ?? '', envoyVersion: undefined, userAgent: '' };
  }

  private configDump(url: URL): object | undefined {
    const id = url.searchParams.get('node');
    const node = id === null ? undefined : this.nodeFor(id, url.searchParams.get('cluster'));
    const snapshot = this.o.controlPlane.cache.snapshotFor(node);
    if (!snapshot) return undefined;
    const out: Record<string, unknown> = { node: node ?? null, configVersion: snapshot.configVersion, warnings: snapshot.warnings };
    for (const [typeUrl, ts] of snapshot.types) {
      out[TYPE_SHORT_NAMES[typeUrl as ServedTypeUrl]] = { version: ts.version, resources: [...ts.resources.values()].map((r) => r.json) };
    }
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const cp = this.o.controlPlane;
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /healthz':
        return send(res, 200, 'ok\n', 'text/plain');
      case 'GET /readyz':
        return cp.cache.ready && cp.ads.port > 0 ? send(res, 200, 'ready\n', 'text/plain') : send(res, 503, 'no config served yet\n', 'text/plain');
      case 'GET /status':
        return send(res, 200, this.status(url.searchParams.get('node')));
      case 'GET /config_dump': {
        const dump = this.configDump(url);
        return dump ? send(res, 200, dump) : send(res, 503, { error: 'no config loaded' });
      }
      case 'GET /metrics':
        return send(res, 200, await this.o.registry.metrics(), this.o.registry.contentType);
      case 'GET /mirror_diffs':
        if (!this.o.comparisons) return send(res, 404, { error: 'no built-in data plane runs here (serve --data-plane builtin)' });
        return send(res, 200, this.o.comparisons());
      case 'PUT /config': {
        if (this.o.token === undefined) return send(res, 403, { error: 'PUT /config is disabled: start serve with --admin-token-file or SHADOWPLANE_ADMIN_TOKEN' });
        if (!tokenMatches(req.headers.authorization, this.o.token)) return send(res, 401, { error: 'missing or wrong bearer token' });
        const limit = this.o.maxConfigBytes ?? 4 * 1024 * 1024;
        const body = await readBody(req, limit);
        if (body === undefined) return send(res, 413, { error: `config larger than ${limit} bytes` });
        const result = await cp.source.replace(body, 'admin PUT /config', 'PUT /config body');
        if (!result.ok) return send(res, 422, { problems: result.problems.map(formatProblem) });
        return send(res, 200, { configVersion: cp.cache.configVersion, warnings: result.warnings.map(formatProblem) });
      }
      default:
        return send(res, 404, { error: `no ${route}` });
    }
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) => reject(new ListenError('the admin endpoint', host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, e)));
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
