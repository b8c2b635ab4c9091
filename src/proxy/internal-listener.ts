// An internal listener (Envoy's `internal_listener`): a listener without a socket, reached through a
// cluster whose endpoint is its `envoy_internal_address`. A request sent to it is handled in-process
// as the listener's connection manager and router would: downstream header rules, virtual host and
// route, the route's header changes and rewrites, then the route's cluster, taken from the same
// ClusterManager (so a copy stays on the mirrors' pools and within their limits). shadowplane
// compiles a mirror's `path` to one (translate/mirror-path.ts).
// https://www.envoyproxy.io/docs/envoy/latest/configuration/other_features/internal_listener
//
// What Envoy's router would answer itself (no route, no cluster, no endpoint, a full circuit
// breaker, a timeout before the response) comes back as that local reply; a failure to reach the
// route's cluster comes back as the upstream error, so the caller counts it (and backs off) as it
// would for a cluster it reaches directly.
import { randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { upstreamRequestOptions, type ClusterManager, type UpstreamPool, type UpstreamRequest, type UpstreamResponse } from './cluster-manager.js';
import type { RouteConfigSpec } from './data-plane-config.js';
import { pickCluster, RANDOM_RANGE } from './exchange.js';
import { HeaderList } from './header-list.js';
import { localReply, type LocalReplyReason } from './local-reply.js';
import { finalizeRouteHeaders, sanitizeDownstreamHeaders } from './request-headers.js';
import { firstMatchingRoute } from './route-table.js';

/** The abort reason when a timer of the internal route ends the forwarded request. */
const TIMED_OUT = new Error('the internal listener ended the forwarded request');

function localReplyResponse(reason: LocalReplyReason): UpstreamResponse {
  const r = localReply(reason);
  return { statusCode: r.status, headers: { ...r.headers }, body: Readable.from([Buffer.from(r.body)]) };
}

/** What connecting to a listener that is not there does: the connection is refused. */
function noSuchListener(name: string): Error {
  return Object.assign(new Error(`no internal listener "${name}"`), { code: 'ECONNREFUSED' });
}

export class InternalListenerUpstream implements UpstreamPool {
  constructor(
    private readonly name: string,
    /** undefined: no internal listener of that name in the applied config. */
    private readonly routes: RouteConfigSpec | undefined,
    private readonly clusters: ClusterManager,
  ) {}

  async request(o: UpstreamRequest): Promise<UpstreamResponse> {
    if (!this.routes) throw noSuchListener(this.name);
    const headers = HeaderList.fromRaw(o.headers);
    sanitizeDownstreamHeaders(headers);
    const vhost = this.routes.virtualHosts.find(headers.first('host') ?? '');
    const match = vhost && firstMatchingRoute(vhost.routes, { method: o.method, path: o.path, headers });
    if (!match) return localReplyResponse('no_route');
    const route = match.route;
    const cluster = this.clusters.get(pickCluster(route.target, randomInt(RANDOM_RANGE)));
    if (!cluster) return localReplyResponse('cluster_not_found');
    const picked = cluster.pick();
    if (!picked) return localReplyResponse('no_healthy_upstream');
    if (!cluster.limit.tryAcquire()) return localReplyResponse('overflow');
    const path = finalizeRouteHeaders(headers, route, o.path, match.matchedLength);

    const controller = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    let finished = false;
    let fired: LocalReplyReason | undefined;
    let response: UpstreamResponse | undefined;
    const onAbort = (): void => controller.abort(o.signal.reason);
    o.signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      finished = true;
      for (const t of timers) clearTimeout(t);
      o.signal.removeEventListener('abort', onAbort);
      cluster.limit.release();
    };
    const after = (ms: number, reason: LocalReplyReason): void => {
      if (finished) return;
      timers.push(
        setTimeout(() => {
          fired ??= reason;
          // Before the response: a local reply; once it has started: a reset, as Envoy does.
          if (response) response.body.destroy(TIMED_OUT);
          else controller.abort(TIMED_OUT);
        }, ms),
      );
    };
    if (cluster.spec.maxStreamDurationMs !== undefined) after(cluster.spec.maxStreamDurationMs, 'max_stream_duration');
    // The route timeout runs from the end of the request body, as for a downstream request.
    if (route.timeoutMs > 0) {
      if (o.body && !o.body.readableEnded) o.body.once('end', () => after(route.timeoutMs, 'timeout'));
      else after(route.timeoutMs, 'timeout');
    }
    try {
      response = await picked.pool.request(upstreamRequestOptions(cluster.spec, { method: o.method, path, headers: headers.toFlat(), body: o.body, signal: controller.signal }));
    } catch (err) {
      done();
      if (fired !== undefined && !o.signal.aborted) return localReplyResponse(fired);
      throw err;
    }
    response.body.once('close', done);
    return response;
  }
}
