// Mirroring as Envoy's router does it: for each effective RequestMirrorPolicy, sample with the
// request's one random value, resolve the cluster (a cluster_header's first value), then send a
// copy with the shadow's headers and a tee of the body. Copies are fire-and-forget: their responses
// are drained and discarded (captured first for a policy that compares them; see
// compare/mirror-comparisons.ts), and nothing about them reaches the primary exchange.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction-requestmirrorpolicy
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { ByteBudget } from '../byte-budget.js';
import { CopyBody, type BodyTee } from './body-tee.js';
import { upstreamRequestOptions, type ClusterManager, type UpstreamCluster, type UpstreamPool } from '../cluster-manager.js';
import type { MirrorPolicySpec, RouteLabels, RouteSpec } from '../data-plane-config.js';
import type { HeaderList } from '../header-list.js';
import { statusClass, type DataPlaneMetrics } from '../metrics.js';
import type { MirrorDropReason } from './drop-reason.js';
import type { MirrorComparisons } from '../compare/mirror-comparisons.js';
import type { ResponseTap } from '../compare/response-capture.js';
import { headerChanges, shadowHeaders, type ShadowHeaderOptions } from '../request-headers.js';
import { effectiveFraction, fractionEnabled, type RuntimeOverrides } from './runtime-fraction.js';
import { ConnectBackoff } from './connect-backoff.js';
import { classifyUpstreamError } from '../upstream-error.js';

export interface MirrorRequest {
  readonly route: RouteSpec;
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

type MirrorLabels = RouteLabels & { readonly mirror: string };

export interface MirrorDispatcherOptions extends ShadowHeaderOptions {
  /** Unread body bytes one copy may hold before it is dropped. */
  readonly copyBufferBytes: number;
}

/** The abort reason for a copy cut off by its timeout or by close(); shared, so aborting allocates nothing. */
const MIRROR_CUT_OFF = new Error('mirror copy cut off');

export class MirrorDispatcher {
  private readonly inFlight = new Set<AbortController>();
  /** Per mirror cluster name; survives config updates like the pools do. */
  private readonly backoffs = new Map<string, ConnectBackoff>();

  constructor(
    private readonly clusters: ClusterManager,
    private readonly metrics: DataPlaneMetrics,
    private readonly budget: ByteBudget,
    private readonly options: MirrorDispatcherOptions,
    private readonly comparisons: MirrorComparisons,
    private readonly logger: Logger,
  ) {}

  dispatch(req: MirrorRequest): void {
    for (const policy of req.route.mirrorPolicies) this.consider(req, policy);
  }

  /** Cancels every copy in flight (the data plane is closing). */
  abortAll(): void {
    for (const c of this.inFlight) c.abort(MIRROR_CUT_OFF);
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
  private consider(req: MirrorRequest, policy: MirrorPolicySpec): void {
    const labels = { ...req.route.labels, mirror: policy.label };
    this.metrics.mirrorEligible.inc(labels);
    if (!fractionEnabled(effectiveFraction(req.runtime, policy.runtimeKey, policy.fraction), req.random)) return;
    this.metrics.mirrorSampled.inc(labels);
    const drop = (reason: MirrorDropReason, cluster = ''): void => this.metrics.mirrorDropped.inc({ ...labels, cluster, reason });
    const notSent = (reason: MirrorDropReason, cluster = ''): void => {
      drop(reason, cluster);
      if (policy.compare) this.comparisons.notSent({ ...labels, cluster });
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
    this.send(req, policy, cluster, picked.pool, labels, (reason) => drop(reason, name), backoff);
  }

  /** One copy, holding a slot of the cluster's in-flight cap until it ends. */
  private send(
    req: MirrorRequest,
    policy: MirrorPolicySpec,
    cluster: UpstreamCluster,
    pool: UpstreamPool,
    labels: MirrorLabels,
    drop: (reason: MirrorDropReason) => void,
    backoff: ConnectBackoff,
  ): void {
    const name = cluster.spec.name;
    const clusterLabels = { ...labels, cluster: name };
    const controller = new AbortController();
    let dropped = false;
    const body = req.body
      ? new CopyBody(this.budget, this.options.copyBufferBytes, (reason) => {
          dropped = true;
          drop(reason);
        })
      : null;
    if (body) req.body?.add(body);
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    const cutOff = (ms: number | undefined): void => {
      if (ms === undefined) return;
      timers.push(
        setTimeout(() => {
          timedOut = true;
          controller.abort(MIRROR_CUT_OFF);
        }, ms),
      );
    };
    // max_stream_duration runs from the start of the upstream stream; the route timeout (Envoy
    // gives the shadow the route's global timeout) from the end of the request body.
    cutOff(cluster.spec.maxStreamDurationMs);
    const routeTimeout = req.route.timeoutMs > 0 ? req.route.timeoutMs : undefined;
    if (!body) cutOff(routeTimeout);
    else body.once('end', () => cutOff(routeTimeout));

    const headers = shadowHeaders(req.headers, policy, this.options);
    // A copy dropped or cut off from here on fails its capture: the comparison is incomplete.
    const capture = policy.compare ? this.comparisons.start(clusterLabels, policy.compare, req.primaryResponse, headerChanges(req.headers, headers)) : null;
    this.inFlight.add(controller);
    this.metrics.mirrorInFlight.inc({ cluster: name });
    this.metrics.mirrorSent.inc(clusterLabels);
    const started = performance.now();
    pool
      .request(
        upstreamRequestOptions(cluster.spec, {
          method: req.method,
          path: req.path,
          headers: headers.toFlat(),
          body,
          signal: controller.signal,
        }),
      )
      .then(async (res) => {
        backoff.succeeded();
        this.metrics.mirrorResponses.inc({ ...clusterLabels, status_class: statusClass(res.statusCode) });
        if (capture) {
          capture.begin(res.statusCode, res.headers);
          res.body.on('data', (chunk: Buffer) => capture.add(chunk));
        }
        await finished(res.body.resume());
        capture?.end();
        this.metrics.mirrorDuration.observe({ cluster: name }, (performance.now() - started) / 1000);
      })
      .catch((err: unknown) => {
        if (dropped) return; // counted when dropped
        if (timedOut) this.metrics.mirrorTimeouts.inc(clusterLabels);
        else if (!controller.signal.aborted) {
          const kind = classifyUpstreamError(err);
          if (kind !== 'reset') backoff.failed(performance.now());
          this.metrics.mirrorErrors.inc({ ...clusterLabels, kind });
        }
        this.logger.debug({ err, cluster: name }, 'mirror copy failed');
      })
      .finally(() => {
        for (const t of timers) clearTimeout(t);
        capture?.fail();
        body?.destroy();
        this.inFlight.delete(controller);
        this.metrics.mirrorInFlight.dec({ cluster: name });
        cluster.limit.release();
      });
  }
}
