// An internal listener (Envoy's `internal_listener`): a listener without a socket, reached through a
// cluster whose endpoint is its `envoy_internal_address`. A request sent to it is handled in-process
// as the listener's connection manager and router would: downstream header rules, virtual host and
// route, the route's header changes and rewrites, then the route's cluster, taken from the same
// ClusterManager (so a copy stays on the mirrors' pools and within their limits). shadowplane
// compiles a mirror's `path` to one (translate/mirror-path.ts). It is an undici dispatcher like a
// Pool: the caller's dispatch handler sees the route's cluster's response relayed as it arrives.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/other_features/internal_listener
//
// What Envoy's router would answer itself (no route, no cluster, no endpoint, a full circuit
// breaker, a timeout before the response) comes back as that local reply; a failure to reach the
// route's cluster comes back as the upstream error, so the caller counts it (and backs off) as it
// would for a cluster it reaches directly.
import { randomInt } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { upstreamRequestOptions, type ClusterManager, type InFlightLimit, type Upstream } from './cluster-manager.js';
import type { RouteConfigSpec } from './data-plane-config.js';
import { pickCluster, RANDOM_RANGE } from './exchange.js';
import { HeaderList } from './header-list.js';
import { localReply, type LocalReplyReason } from './local-reply.js';
import { finalizeRouteHeaders, sanitizeDownstreamHeaders } from './request-headers.js';
import { firstMatchingRoute } from './route-table.js';

/** The abort reason when a timer of the internal route ends the forwarded request. */
const TIMED_OUT = new Error('the internal listener ended the forwarded request');

/** What connecting to a listener that is not there does: the connection is refused. */
function noSuchListener(name: string): Error {
  return Object.assign(new Error(`no internal listener "${name}"`), { code: 'ECONNREFUSED' });
}

/**
 * Between the caller's handler and the route's cluster: the caller's controller (abort, pause and
 * resume reach the forwarded request) and the forwarded request's handler (its response goes to the
 * caller, unless the internal route's own timer answered first).
 */
class Relay implements Dispatcher.DispatchController, Dispatcher.DispatchHandler {
  rawHeaders: Buffer[] | string[] | IncomingHttpHeaders | null = null;
  rawTrailers: Buffer[] | string[] | IncomingHttpHeaders | null = null;
  private inner: Dispatcher.DispatchController | undefined;
  private abortedWith: Error | null = null;
  private pausedByCaller = false;
  private started = false;
  private responded = false;
  private finished = false;
  private fired: LocalReplyReason | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly caller: Dispatcher.DispatchHandler,
    private readonly limit: InFlightLimit | undefined,
    /** The route's cluster's max_stream_duration: from the moment the forwarded request has a connection. */
    private readonly streamMs?: number,
  ) {}

  get aborted(): boolean {
    return this.abortedWith !== null;
  }

  get paused(): boolean {
    return this.pausedByCaller;
  }

  get reason(): Error | null {
    return this.abortedWith;
  }

  abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = reason;
    this.inner?.abort(reason);
  }

  pause(): void {
    this.pausedByCaller = true;
    this.inner?.pause();
  }

  resume(): void {
    this.pausedByCaller = false;
    this.inner?.resume();
  }

  /** Answers as Envoy's router would itself, after the caller has had its start. */
  reply(reason: LocalReplyReason): void {
    queueMicrotask(() => this.localReply(reason));
  }

  private localReply(reason: LocalReplyReason): void {
    if (this.finished) return;
    this.begin();
    if (this.aborted) return this.fail(this.abortedWith!);
    const r = localReply(reason);
    this.finish();
    this.caller.onResponseStart?.(this, r.status, { ...r.headers });
    if (!this.aborted) this.caller.onResponseData?.(this, Buffer.from(r.body));
    if (!this.aborted) this.caller.onResponseEnd?.(this, {});
  }

  /** Fails as a connection would (the caller counts and backs off as for any cluster). */
  refuse(err: Error): void {
    queueMicrotask(() => {
      this.begin();
      this.fail(err);
    });
  }

  /**
   * After `ms`, the forwarded request is ended: a local reply before its response, a reset after, as
   * Envoy does. It acts a turn later: the caller's own timer started first and its cut-off is paced
   * to the next turn, and a hop's timer must not overtake its caller's with a reply.
   */
  after(ms: number, reason: LocalReplyReason): void {
    if (this.finished) return;
    this.timers.push(
      setTimeout(() => {
        setImmediate(() => {
          if (this.finished || this.abortedWith) return;
          this.fired ??= reason;
          if (this.inner) this.inner.abort(TIMED_OUT);
          else this.localReply(reason);
        });
      }, ms),
    );
  }

  /**
   * The caller's request has its connection at once, as a connection to an internal listener is
   * made in-process: its timers start before those of the hop behind it, as in Envoy.
   */
  connected(): void {
    queueMicrotask(() => this.begin());
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.caller.onRequestStart?.(this, undefined);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    this.limit?.release();
  }

  private fail(err: Error): void {
    this.finish();
    this.caller.onResponseError?.(this, err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.inner = controller;
    if (this.abortedWith) return controller.abort(this.abortedWith);
    if (this.fired) return controller.abort(TIMED_OUT);
    if (this.pausedByCaller) controller.pause();
    if (this.streamMs !== undefined) this.after(this.streamMs, 'max_stream_duration');
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.responded = true;
    this.caller.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.caller.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.finish();
    this.caller.onResponseEnd?.(this, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return;
    this.begin();
    // The internal route's timer ended it before any response: the router's own answer.
    if (this.fired !== undefined && !this.responded && !this.abortedWith) return this.localReply(this.fired);
    this.fail(err);
  }
}

export class InternalListenerUpstream implements Upstream {
  constructor(
    private readonly name: string,
    /** undefined: no internal listener of that name in the applied config. */
    private readonly routes: RouteConfigSpec | undefined,
    private readonly clusters: ClusterManager,
  ) {}

  dispatch(o: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (!this.routes) {
      new Relay(handler, undefined).refuse(noSuchListener(this.name));
      return true;
    }
    const headers = HeaderList.fromRaw((o.headers ?? []) as string[]);
    sanitizeDownstreamHeaders(headers);
    const vhost = this.routes.virtualHosts.find(headers.first('host') ?? '');
    const match = vhost && firstMatchingRoute(vhost.routes, { method: o.method, path: o.path, headers });
    if (!match) return reply(handler, 'no_route');
    const route = match.route;
    const cluster = this.clusters.get(pickCluster(route.target, randomInt(RANDOM_RANGE)));
    if (!cluster) return reply(handler, 'cluster_not_found');
    const picked = cluster.pick();
    if (!picked) return reply(handler, 'no_healthy_upstream');
    if (!cluster.limit.tryAcquire()) return reply(handler, 'overflow');
    const path = finalizeRouteHeaders(headers, route, o.path, match.matchedLength);
    const relay = new Relay(handler, cluster.limit, cluster.spec.maxStreamDurationMs);
    relay.connected();
    // The route timeout runs from the end of the request body, as for a downstream request.
    if (route.timeoutMs > 0) {
      const body = o.body;
      if (body instanceof Readable && !body.readableEnded) body.once('end', () => relay.after(route.timeoutMs, 'timeout'));
      else relay.after(route.timeoutMs, 'timeout');
    }
    return picked.pool.dispatch(upstreamRequestOptions(cluster.spec, { method: o.method, path, headers: headers.toFlat(), body: o.body ?? null }), relay);
  }
}

function reply(handler: Dispatcher.DispatchHandler, reason: LocalReplyReason): boolean {
  new Relay(handler, undefined).reply(reason);
  return true;
}
