// One downstream request through the data path: virtual host and route, cluster and endpoint,
// Envoy's header rules, the primary upstream exchange with its timeouts, and the mirrors. Errors
// end in Envoy's local replies; nothing here throws past the request.
import { randomInt } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { BodyTee } from './mirror/body-tee.js';
import { upstreamRequestOptions, type ClusterManager, type UpstreamCluster, type UpstreamPool } from './cluster-manager.js';
import type { PrimaryTarget, RouteConfigSpec, RouteSpec } from './data-plane-config.js';
import { HeaderList } from './header-list.js';
import { sendLocalReply, type LocalReplyReason } from './local-reply.js';
import { statusClass, type DataPlaneMetrics } from './metrics.js';
import type { MirrorDispatcher } from './mirror/mirror-dispatcher.js';
import { ResponseTap } from './compare/response-capture.js';
import { finalizeRouteHeaders, sanitizeDownstreamHeaders } from './request-headers.js';
import { firstMatchingRoute } from './route-table.js';
import type { RuntimeOverrides } from './mirror/runtime-fraction.js';
import { classifyUpstreamError, type UpstreamFailure } from './upstream-error.js';

export interface ExchangeContext {
  /** The listener's route configuration in the snapshot the request started with. */
  readonly routeConfig: RouteConfigSpec;
  readonly runtime: RuntimeOverrides;
  readonly primaries: ClusterManager;
  readonly mirrors: MirrorDispatcher;
  readonly metrics: DataPlaneMetrics;
  readonly logger: Logger;
}

/** Envoy draws one random value per stream (its stream id) and uses it for the weighted split and every mirror policy. */
export const RANDOM_RANGE = 2 ** 48 - 1; // randomInt's widest range

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Path and authority from the request target: origin-form, or absolute-form (whose authority replaces Host). */
function requestTarget(req: IncomingMessage): { path: string; authority: string | undefined } | undefined {
  const url = req.url ?? '';
  if (url.includes('#')) return undefined; // Envoy rejects fragments in the path
  if (url.startsWith('/')) return { path: url, authority: undefined };
  if (url === '*' && req.method === 'OPTIONS') return { path: url, authority: undefined };
  const m = /^https?:\/\/([^/?]+)(.*)$/i.exec(url);
  if (!m) return undefined;
  const rest = m[2]!;
  return { path: rest.startsWith('/') ? rest : `/${rest}`, authority: m[1]! };
}

export function pickCluster(target: PrimaryTarget, random: number): string {
  if (target.kind === 'cluster') return target.cluster;
  // WeightedClusterEntry selection: the random value modulo the total weight, walked in order.
  let point = random % target.totalWeight;
  for (const c of target.clusters) {
    if (point < c.weight) return c.name;
    point -= c.weight;
  }
  return target.clusters[target.clusters.length - 1]!.name;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

function responseHeaders(upstream: IncomingHttpHeaders, serviceTimeMs: number): IncomingHttpHeaders {
  const nominated = String(upstream.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase());
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value !== undefined && !RESPONSE_HOP_BY_HOP.has(name) && !nominated.includes(name)) out[name] = value;
  }
  out['x-envoy-upstream-service-time'] = String(Math.round(serviceTimeMs));
  return out;
}

const FAILURE_REPLY = { connect_failure: 'connect_failure', connect_timeout: 'connect_timeout', reset: 'upstream_reset' } as const satisfies Record<
  UpstreamFailure,
  LocalReplyReason
>;

export function handleExchange(req: IncomingMessage, res: ServerResponse, ctx: ExchangeContext): void {
  const started = performance.now();
  const reply = (reason: LocalReplyReason): void => {
    ctx.metrics.localReply(reason);
    sendLocalReply(res, reason);
  };
  // Envoy's connection manager refuses HTTP/1.0 unless told to accept it.
  if (req.httpVersion === '1.0') return reply('http10');
  const target = requestTarget(req);
  if (!target) return reply('bad_request');
  const headers = HeaderList.fromRaw(req.rawHeaders);
  if (target.authority !== undefined) headers.set('host', target.authority);
  sanitizeDownstreamHeaders(headers);
  const method = req.method ?? 'GET';
  const vhost = ctx.routeConfig.virtualHosts.find(headers.first('host') ?? '');
  const match = vhost && firstMatchingRoute(vhost.routes, { method, path: target.path, headers });
  if (!match) return reply('no_route');
  const route = match.route;
  const random = randomInt(RANDOM_RANGE);
  const clusterName = pickCluster(route.target, random);
  const cluster = ctx.primaries.get(clusterName);
  if (!cluster) return reply('cluster_not_found');
  const picked = cluster.pick();
  if (!picked) return reply('no_healthy_upstream');
  if (!cluster.limit.tryAcquire()) return reply('overflow');

  const path = finalizeRouteHeaders(headers, route, target.path, match.matchedLength);
  new PrimaryExchange(req, res, ctx, route, cluster, started).start(picked.pool, method, path, headers, random);
}

/** The abort reason for an upstream request the data path gave up on; one object, so no DOMException per request. */
const GAVE_UP = new Error('the data path ended the upstream request');

/**
 * Streams the upstream body to the client. A reset while streaming reaches the client as a reset, as
 * with Envoy. (Plain pipe rather than stream.pipeline, which allocates an AbortController and a
 * DOMException per call: a measurable share of the hot path.)
 */
function relay(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      body.off('end', done);
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      if (!body.readableEnded) body.destroy();
      done();
    };
    body.once('error', () => {
      res.destroy();
      done();
    });
    body.once('end', done);
    res.once('close', onClose);
    body.pipe(res);
  });
}

class PrimaryExchange {
  private readonly controller = new AbortController();
  /** Set once the upstream response has been fully relayed (or failed): nothing left to abort. */
  private upstreamDone = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private tee: BodyTee | null = null;
  /** The upstream response, for copies that compare theirs with it. */
  private readonly response = new ResponseTap();
  /** Set when the data path has answered or given up, so late upstream events are ignored. */
  private settled = false;
  /** Set when the downstream response is closed. */
  private ended = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly ctx: ExchangeContext,
    private readonly route: RouteSpec,
    private readonly cluster: UpstreamCluster,
    private readonly started: number,
  ) {}

  start(pool: UpstreamPool, method: string, path: string, headers: HeaderList, random: number): void {
    this.res.once('close', () => this.end());
    if (hasBody(this.req)) this.tee = new BodyTee(this.req, new PassThrough(), () => this.requestComplete());
    const maxDuration = this.cluster.spec.maxStreamDurationMs;
    if (maxDuration !== undefined) this.after(maxDuration, 'max_stream_duration');
    const upstreamStart = performance.now();
    pool
      .request(
        upstreamRequestOptions(this.cluster.spec, {
          method,
          path,
          headers: headers.toFlat(),
          body: this.tee?.primary ?? null,
          signal: this.controller.signal,
        }),
      )
      .then(async (upstream) => {
        if (this.settled) {
          upstream.body.destroy();
          return;
        }
        this.res.writeHead(upstream.statusCode, responseHeaders(upstream.headers, performance.now() - upstreamStart));
        this.ctx.metrics.primaryResponses.inc({ ...this.route.labels, cluster: this.cluster.spec.name, status_class: statusClass(upstream.statusCode) });
        const relayed = relay(upstream.body, this.res);
        // After relay's pipe: the client is written to before a comparison copies the chunk.
        this.response.follow(upstream.statusCode, upstream.headers, upstream.body);
        await relayed;
        this.upstreamDone = true;
      })
      .catch((err: unknown) => {
        this.upstreamDone = true;
        if (this.settled) return;
        this.ctx.logger.debug({ err, cluster: this.cluster.spec.name }, 'primary upstream request failed');
        this.fail(FAILURE_REPLY[classifyUpstreamError(err)]);
      });
    // The copies are made once the primary is on its way (Envoy too starts shadows after the
    // upstream request), so their work overlaps the primary's round trip instead of preceding it.
    // The body starts flowing only then, so every copy sees it from the first byte.
    setImmediate(() => {
      if (this.ended) return;
      try {
        this.ctx.mirrors.dispatch({
          route: this.route,
          method,
          path,
          headers,
          random,
          runtime: this.ctx.runtime,
          body: this.tee,
          primaryResponse: this.response,
        });
      } catch (err) {
        // Copies are best effort: a fault in making one must not touch the primary.
        this.ctx.logger.error({ err }, 'mirror dispatch failed');
      }
      if (this.tee) this.tee.start();
      else this.requestComplete();
    });
  }

  /** The route timeout starts once the whole request has been received. */
  private requestComplete(): void {
    if (this.route.timeoutMs > 0) this.after(this.route.timeoutMs, 'timeout');
  }

  private after(ms: number, reason: LocalReplyReason): void {
    this.timers.push(setTimeout(() => this.fail(reason), ms));
  }

  /** Ends the exchange with a local reply, or a reset once the response has started. */
  private fail(reason: LocalReplyReason): void {
    if (this.settled) return;
    this.settled = true;
    this.controller.abort(GAVE_UP);
    this.ctx.metrics.localReply(reason);
    sendLocalReply(this.res, reason);
  }

  private end(): void {
    this.ended = true;
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    if (!this.upstreamDone) this.controller.abort(GAVE_UP);
    this.tee?.abandon();
    this.response.close();
    this.cluster.limit.release();
    this.ctx.metrics.primaryDuration.observe(this.route.labels, (performance.now() - this.started) / 1000);
  }
}
