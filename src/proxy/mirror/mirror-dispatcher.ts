// Mirroring as Envoy's router does it: for each effective RequestMirrorPolicy, sample with the
// request's one random value, resolve the cluster (a cluster_header's first value), then send a
// copy with the shadow's headers and a tee of the body. Copies are fire-and-forget: their responses
// are drained and discarded (captured first for a policy that compares them; see
// compare/mirror-comparisons.ts), and nothing about them reaches the primary exchange.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction-requestmirrorpolicy
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ByteBudget } from '../byte-budget.js';
import { CopyBody, type BodyTee } from './body-tee.js';
import { upstreamRequestOptions, type ClusterManager, type Upstream, type UpstreamCluster } from '../cluster-manager.js';
import type { MirrorPolicySpec, RouteSpec } from '../data-plane-config.js';
import type { HeaderList } from '../header-list.js';
import type { CopyCounters, PolicyCounters, RouteCounters } from '../metrics.js';
import type { MirrorDropReason } from './drop-reason.js';
import type { MirrorComparisons } from '../compare/mirror-comparisons.js';
import type { ResponseCapture, ResponseTap } from '../compare/response-capture.js';
import { headerChanges, shadowHeaders, type ShadowHeaderOptions } from '../request-headers.js';
import { effectiveFraction, fractionEnabled, type RuntimeOverrides } from './runtime-fraction.js';
import { ConnectBackoff } from './connect-backoff.js';
import { abortResetting } from '../connection-reset.js';
import { CutOffPacer } from './cut-off-pacer.js';
import { classifyUpstreamError } from '../upstream-error.js';

export interface MirrorRequest {
  readonly route: RouteSpec;
  /** The route's counters, one PolicyCounters per mirror policy. */
  readonly counters: RouteCounters;
  readonly method: string;
  /** The path the primary is sent with (after prefix_rewrite), as Envoy copies the final headers. */
  readonly path: string;
  /** The primary's finalized headers; copies start from them. */
  readonly headers: HeaderList;
  readonly random: number;
  readonly runtime: RuntimeOverrides;
  /** null for a request without a body. */
  readonly body: BodyTee | null;
  /** The primary's response, for copies whose policy compares responses. */
  readonly primaryResponse: ResponseTap;
}

export interface MirrorDispatcherOptions extends ShadowHeaderOptions {
  /** Unread body bytes one copy may hold before it is dropped. */
  readonly copyBufferBytes: number;
}

/** The abort reason for a copy cut off by its timeout or by close(); shared, so aborting allocates nothing. */
const MIRROR_CUT_OFF = new Error('mirror copy cut off');

/** What a copy needs from its dispatcher. */
interface CopyOwner {
  readonly logger: Logger;
  /** Where its timeouts cut it off, a few copies at a time. */
  readonly cutOffs: CutOffPacer;
  finished(copy: CopyExchange): void;
}

/**
 * One copy in flight, as undici's dispatch handler: its response is counted and discarded as it
 * arrives (captured first when the policy compares responses), with no stream or promise per copy.
 * It holds a slot of its cluster's in-flight cap until it ends.
 */
class CopyExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private routeTimer: NodeJS.Timeout | undefined;
  /** Cut off (a timeout, or close()) before it had a connection: aborted as soon as it gets one. */
  private cut = false;
  private timedOut = false;
  private done = false;
  /** Set when the copy's body was dropped (counted then, not again as an error). */
  dropped = false;
  private readonly started = performance.now();

  constructor(
    private readonly owner: CopyOwner,
    readonly cluster: UpstreamCluster,
    readonly counters: CopyCounters,
    private readonly backoff: ConnectBackoff,
    private readonly body: CopyBody | null,
    private readonly capture: ResponseCapture | null,
  ) {}

  /**
   * The route timeout (Envoy gives the shadow the route's global timeout) runs from the end of the
   * request body; the cluster's max_stream_duration from the moment the copy has a connection.
   */
  startRouteTimeout(ms: number): void {
    if (ms > 0 && !this.done) this.routeTimer = setTimeout(this.timeout, ms);
  }

  private readonly timeout = (): void => this.owner.cutOffs.add(() => this.cutOff(true));

  /** Stops the copy: a timeout (counted as one), or the data plane closing. Its connection is reset. */
  cutOff(timeout: boolean): void {
    if (this.done) return;
    this.timedOut ||= timeout;
    const controller = this.controller;
    if (controller) abortResetting(() => controller.abort(MIRROR_CUT_OFF));
    else this.cut = true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cut) return abortResetting(() => controller.abort(MIRROR_CUT_OFF));
    const ms = this.cluster.spec.maxStreamDurationMs;
    if (ms !== undefined && this.streamTimer === undefined) this.streamTimer = setTimeout(this.timeout, ms);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // A copy that waited long is in the old generation; what it points to would outlive it (the raw
    // header buffers the controller keeps), so it keeps nothing of the response it does not need.
    controller.rawHeaders = null;
    if (statusCode < 200) return;
    this.backoff.succeeded();
    this.counters.response(statusCode);
    this.capture?.begin(statusCode, headers);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.capture?.add(chunk);
  }

  onResponseEnd(): void {
    this.capture?.end();
    this.counters.cluster.duration((performance.now() - this.started) / 1000);
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.done) return;
    if (!this.dropped) {
      if (this.timedOut) this.counters.timeouts.value++;
      else if (err !== MIRROR_CUT_OFF) {
        const kind = classifyUpstreamError(err);
        if (kind !== 'reset') this.backoff.failed(performance.now());
        this.counters.error(kind);
      }
    }
    this.owner.logger.debug({ err, cluster: this.cluster.spec.name }, 'mirror copy failed');
    this.finish();
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.streamTimer);
    clearTimeout(this.routeTimer);
    this.capture?.fail();
    this.body?.destroy();
    this.owner.finished(this);
  }
}

export class MirrorDispatcher implements CopyOwner {
  readonly cutOffs = new CutOffPacer();
  private readonly inFlight = new Set<CopyExchange>();
  /** Per mirror cluster name; survives config updates like the pools do. */
  private readonly backoffs = new Map<string, ConnectBackoff>();

  constructor(
    private readonly clusters: ClusterManager,
    private readonly budget: ByteBudget,
    private readonly options: MirrorDispatcherOptions,
    private readonly comparisons: MirrorComparisons,
    readonly logger: Logger,
  ) {}

  dispatch(req: MirrorRequest): void {
    const policies = req.route.mirrorPolicies;
    for (let i = 0; i < policies.length; i++) this.consider(req, policies[i]!, req.counters.policies[i]!);
  }

  /** Cancels every copy in flight (the data plane is closing). */
  abortAll(): void {
    for (const c of this.inFlight) c.cutOff(false);
  }

  finished(copy: CopyExchange): void {
    this.inFlight.delete(copy);
    copy.counters.cluster.inFlight.value--;
    copy.cluster.limit.release();
  }

  private backoffOf(cluster: string): ConnectBackoff {
    let b = this.backoffs.get(cluster);
    if (!b) {
      b = new ConnectBackoff();
      this.backoffs.set(cluster, b);
    }
    return b;
  }

  /** Sampling, then the cluster: every way a policy can end without a copy is counted here. */
  private consider(req: MirrorRequest, policy: MirrorPolicySpec, counters: PolicyCounters): void {
    counters.eligible.value++;
    if (!fractionEnabled(effectiveFraction(req.runtime, policy.runtimeKey, policy.fraction), req.random)) return;
    counters.sampled.value++;
    const notSent = (reason: MirrorDropReason, cluster = ''): void => {
      counters.dropped(cluster, reason);
      if (policy.compare) this.comparisons.notSent({ ...counters.labels, cluster });
    };

    const name = policy.target.kind === 'cluster' ? policy.target.cluster : req.headers.first(policy.target.header);
    if (!name) return notSent('no_cluster_header');
    const cluster = this.clusters.get(name);
    if (!cluster) return notSent('unknown_cluster');
    const picked = cluster.pick();
    if (!picked) return notSent('no_healthy_upstream', name);
    const backoff = this.backoffOf(name);
    if (backoff.blocked(performance.now())) return notSent('mirror_unreachable', name);
    if (!cluster.limit.tryAcquire()) return notSent('overflow', name);
    this.send(req, policy, cluster, picked.pool, counters.copy(name), backoff);
  }

  /** One copy, holding a slot of the cluster's in-flight cap until it ends. */
  private send(req: MirrorRequest, policy: MirrorPolicySpec, cluster: UpstreamCluster, pool: Upstream, counters: CopyCounters, backoff: ConnectBackoff): void {
    let copy: CopyExchange | undefined;
    const body = req.body
      ? new CopyBody(this.budget, this.options.copyBufferBytes, (reason) => {
          if (copy) copy.dropped = true;
          counters.dropped(reason);
        })
      : null;
    const headers = shadowHeaders(req.headers, policy, this.options);
    // A copy dropped or cut off from here on fails its capture: the comparison is incomplete.
    const capture = policy.compare ? this.comparisons.start(counters.labels, policy.compare, req.primaryResponse, headerChanges(req.headers, headers)) : null;
    copy = new CopyExchange(this, cluster, counters, backoff, body, capture);
    const routeTimeout = req.route.timeoutMs;
    if (body) {
      req.body?.add(body);
      body.once('end', () => copy.startRouteTimeout(routeTimeout));
    } else {
      copy.startRouteTimeout(routeTimeout);
    }
    this.inFlight.add(copy);
    counters.cluster.inFlight.value++;
    counters.sent.value++;
    pool.dispatch(upstreamRequestOptions(cluster.spec, { method: req.method, path: req.path, headers: headers.toFlat(), body }), copy);
  }
}
