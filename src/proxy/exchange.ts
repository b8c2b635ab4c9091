// One downstream request through the data path: virtual host and route, cluster and endpoint,
// Envoy's header rules, the primary upstream exchange with its timeouts, and the mirrors. Errors
// end in Envoy's local replies; nothing here throws past the request.
import { randomInt } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { BodyTee } from './mirror/body-tee.js';
import { upstreamRequestOptions, type ClusterManager, type Upstream, type UpstreamCluster } from './cluster-manager.js';
import type { PrimaryTarget, RouteConfigSpec, RouteSpec } from './data-plane-config.js';
import { HeaderList } from './header-list.js';
import { sendLocalReply, type LocalReplyReason } from './local-reply.js';
import type { DataPlaneMetrics, RouteCounters } from './metrics.js';
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

/** The upstream response's headers for the client, flat as node's writeHead takes them: hop-by-hop ones out, the service time in. */
function responseHeaders(upstream: IncomingHttpHeaders, serviceTimeMs: number): string[] {
  const connection = upstream.connection;
  const nominated = connection === undefined ? undefined : String(connection).split(',').map((t) => t.trim().toLowerCase());
  const out: string[] = [];
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || RESPONSE_HOP_BY_HOP.has(name) || nominated?.includes(name)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  out.push('x-envoy-upstream-service-time', String(Math.round(serviceTimeMs)));
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
 * One primary exchange, as undici's dispatch handler: the upstream response is written to the client
 * as it arrives (the client's backpressure pauses the upstream), with no stream or promise between
 * them. A reset while streaming reaches the client as a reset, as with Envoy.
 */
class PrimaryExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set once the upstream response has ended (or failed): nothing left to abort. */
  private upstreamDone = false;
  private routeTimer: NodeJS.Timeout | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private tee: BodyTee | null = null;
  /** The upstream response, for copies that compare theirs with it. */
  private readonly response = new ResponseTap();
  /** Set when the data path has answered or given up, so late upstream events are ignored. */
  private settled = false;
  /** Set when the downstream response is closed. */
  private ended = false;
  private upstreamStart = 0;
  private readonly resumeUpstream = (): void => this.controller?.resume();
  private readonly counters: RouteCounters;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly ctx: ExchangeContext,
    private readonly route: RouteSpec,
    private readonly cluster: UpstreamCluster,
    private readonly started: number,
  ) {
    this.counters = ctx.metrics.route(route);
  }

  start(pool: Upstream, method: string, path: string, headers: HeaderList, random: number): void {
    // 'close' comes once: `on` spares the wrapper `once` allocates per request.
    this.res.on('close', () => this.end());
    if (hasBody(this.req)) this.tee = new BodyTee(this.req, new PassThrough(), () => this.requestComplete());
    this.upstreamStart = performance.now();
    pool.dispatch(upstreamRequestOptions(this.cluster.spec, { method, path, headers: headers.toFlat(), body: this.tee?.primary ?? null }), this);
    // The copies are made once the primary is on its way (written, when a connection was free), as
    // Envoy starts shadows after the upstream request, so their work overlaps the primary's round
    // trip. The body starts flowing only then, so every copy sees it from the first byte.
    if (this.route.mirrorPolicies.length > 0) {
      try {
        this.ctx.mirrors.dispatch({
          route: this.route,
          counters: this.counters,
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
    }
    if (this.tee) this.tee.start();
    else this.requestComplete();
  }

  /** The request has a connection. As Envoy's onPoolReady, the cluster's max_stream_duration starts now. */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) return controller.abort(GAVE_UP);
    const maxDuration = this.cluster.spec.maxStreamDurationMs;
    if (maxDuration !== undefined && this.streamTimer === undefined) this.streamTimer = setTimeout(() => this.fail('max_stream_duration'), maxDuration);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: node answers the client's Expect itself
    if (this.settled) return controller.abort(GAVE_UP);
    this.res.writeHead(statusCode, responseHeaders(headers, performance.now() - this.upstreamStart));
    this.counters.primaryResponse(this.cluster.spec.name, statusCode);
    this.response.begin(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.resumeUpstream);
    }
    // After the client's write: the client is written to before a comparison copies the chunk.
    this.response.add(chunk);
  }

  onResponseEnd(): void {
    this.upstreamDone = true;
    if (this.settled) return;
    this.res.end();
    this.response.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.upstreamDone = true;
    if (this.settled) return;
    this.ctx.logger.debug({ err, cluster: this.cluster.spec.name }, 'primary upstream request failed');
    this.fail(FAILURE_REPLY[classifyUpstreamError(err)]);
  }

  /** The route timeout starts once the whole request has been received. */
  private requestComplete(): void {
    if (this.route.timeoutMs > 0 && !this.ended) this.routeTimer = setTimeout(() => this.fail('timeout'), this.route.timeoutMs);
  }

  /** Ends the exchange with a local reply, or a reset once the response has started. */
  private fail(reason: LocalReplyReason): void {
    if (this.settled) return;
    this.settled = true;
    if (!this.upstreamDone) this.controller?.abort(GAVE_UP);
    this.ctx.metrics.localReply(reason);
    sendLocalReply(this.res, reason);
  }

  private end(): void {
    this.ended = true;
    this.settled = true;
    clearTimeout(this.routeTimer);
    clearTimeout(this.streamTimer);
    if (!this.upstreamDone) this.controller?.abort(GAVE_UP);
    this.tee?.abandon();
    this.response.close();
    this.cluster.limit.release();
    this.counters.primaryDuration((performance.now() - this.started) / 1000);
  }
}
