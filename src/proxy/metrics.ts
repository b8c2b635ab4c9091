// The data path's metrics on the injected prom-client Registry. Label values come from the config
// (route, virtual host, cluster names) or from fixed sets (reasons, status classes), never from a
// request: a header naming an unknown cluster is counted under cluster="".
//
// What a request counts goes to cells (metric-cells.ts) held per route, mirror policy and mirror
// cluster, found once and kept; prom-client sees them when the registry is read.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MirrorPolicySpec, RouteLabels, RouteSpec } from './data-plane-config.js';
import type { LocalReplyReason } from './local-reply.js';
import { Cell, Cells } from './metric-cells.js';
import type { MirrorDropReason } from './mirror/drop-reason.js';
import type { UpstreamFailure } from './upstream-error.js';

type RouteLabel = keyof RouteLabels;
type MirrorLabel = RouteLabel | 'mirror';
type MirrorClusterLabel = MirrorLabel | 'cluster';

/** A copy's labels: its route, policy (`mirror`) and cluster ('' when it never had one). */
export type CopyLabels = RouteLabels & { readonly mirror: string; readonly cluster: string };

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Status classes by hundreds: 1xx … 9xx (undici accepts any three-digit status). */
const STATUS_CLASSES = Array.from({ length: 10 }, (_, i) => `${i}xx`);

function statusCells<L extends string>(cells: Cells<L | 'status_class'>, labels: Record<L, string>): Cell[] {
  return STATUS_CLASSES.map((status_class) => cells.get({ ...labels, status_class } as Record<L | 'status_class', string>));
}

function classIndex(status: number): number {
  return Math.min(9, Math.max(0, Math.floor(status / 100)));
}

/** Byte counts read when the registry is read. */
export interface BufferGauges {
  /** Request body bytes held for copies. */
  readonly mirrorBufferedBytes: () => number;
  /** Response body bytes held for comparisons. */
  readonly compareBufferedBytes: () => number;
}

export class DataPlaneMetrics {
  readonly configUpdates: Counter<'result'>;
  readonly mirrorCompare: Counter<MirrorClusterLabel | 'result'>;
  readonly primaryDuration: Histogram<RouteLabel>;
  readonly mirrorDuration: Histogram<'cluster'>;
  private readonly localReplies = new Cells<'reason'>(['reason']);
  readonly primaryResponses = new Cells<RouteLabel | 'cluster' | 'status_class'>(['route_config', 'virtual_host', 'route', 'cluster', 'status_class']);
  readonly mirrorEligible = new Cells<MirrorLabel>(['route_config', 'virtual_host', 'route', 'mirror']);
  readonly mirrorSampled = new Cells<MirrorLabel>(['route_config', 'virtual_host', 'route', 'mirror']);
  readonly mirrorSent = new Cells<MirrorClusterLabel>(['route_config', 'virtual_host', 'route', 'mirror', 'cluster']);
  readonly mirrorResponses = new Cells<MirrorClusterLabel | 'status_class'>(['route_config', 'virtual_host', 'route', 'mirror', 'cluster', 'status_class']);
  readonly mirrorTimeouts = new Cells<MirrorClusterLabel>(['route_config', 'virtual_host', 'route', 'mirror', 'cluster']);
  readonly mirrorErrors = new Cells<MirrorClusterLabel | 'kind'>(['route_config', 'virtual_host', 'route', 'mirror', 'cluster', 'kind']);
  readonly mirrorDropped = new Cells<MirrorClusterLabel | 'reason'>(['route_config', 'virtual_host', 'route', 'mirror', 'cluster', 'reason']);
  readonly mirrorInFlight = new Cells<'cluster'>(['cluster']);
  private readonly localReplyCells = new Map<LocalReplyReason, Cell>();
  private readonly routes = new WeakMap<RouteSpec, RouteCounters>();
  private readonly mirrorClusters = new Map<string, MirrorClusterCounters>();

  constructor(registry: Registry, buffers: BufferGauges) {
    const registers = [registry];
    const route: RouteLabel[] = ['route_config', 'virtual_host', 'route'];
    const mirror: MirrorLabel[] = [...route, 'mirror'];
    const mirrorCluster: MirrorClusterLabel[] = [...mirror, 'cluster'];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], cells: Cells<L>): void => {
      new Counter<L>({ name, help, labelNames, registers, collect() { cells.addTo(this); } });
    };
    this.configUpdates = new Counter({
      name: 'shadowplane_dataplane_config_updates_total',
      help: 'Resource sets given to the data plane, by result (accepted, rejected)',
      labelNames: ['result'],
      registers,
      // Every worker process applies every set: aggregated across them, a set counts once.
      aggregator: 'max',
    });
    counter('shadowplane_local_replies_total', 'Responses the data plane made itself instead of an upstream, by reason', ['reason'], this.localReplies);
    counter('shadowplane_primary_responses_total', 'Upstream responses relayed to clients, by route, cluster and status class', [...route, 'cluster', 'status_class'], this.primaryResponses);
    this.primaryDuration = new Histogram({
      name: 'shadowplane_primary_duration_seconds',
      help: 'Time from a request to the end of its response (primary exchange), by route',
      labelNames: route,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    counter('shadowplane_mirror_eligible_total', 'Requests a mirror policy applied to, before sampling', mirror, this.mirrorEligible);
    counter('shadowplane_mirror_sampled_total', 'Requests a mirror policy sampled in (runtime fraction)', mirror, this.mirrorSampled);
    counter('shadowplane_mirror_sent_total', 'Copies dispatched to a mirror cluster', mirrorCluster, this.mirrorSent);
    counter('shadowplane_mirror_responses_total', 'Mirror responses (drained and discarded), by status class', [...mirrorCluster, 'status_class'], this.mirrorResponses);
    counter('shadowplane_mirror_timeouts_total', 'Copies cut off by the route timeout or the mirror cluster max_stream_duration', mirrorCluster, this.mirrorTimeouts);
    counter('shadowplane_mirror_errors_total', 'Copies that failed upstream, by kind (connect_failure, connect_timeout, reset)', [...mirrorCluster, 'kind'], this.mirrorErrors);
    counter('shadowplane_mirror_dropped_total', 'Copies not sent, or abandoned before their body was sent, by reason', [...mirrorCluster, 'reason'], this.mirrorDropped);
    this.mirrorDuration = new Histogram({
      name: 'shadowplane_mirror_duration_seconds',
      help: 'Time from dispatching a copy to the end of its response, by mirror cluster',
      labelNames: ['cluster'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const inFlight = this.mirrorInFlight;
    new Gauge({ name: 'shadowplane_mirror_in_flight', help: 'Copies in flight, by mirror cluster', labelNames: ['cluster'], registers, collect() { inFlight.setOn(this); } });
    new Gauge({
      name: 'shadowplane_mirror_buffered_bytes',
      help: 'Request body bytes held for copies that their mirrors have not read yet',
      registers,
      collect() {
        this.set(buffers.mirrorBufferedBytes());
      },
    });
    this.mirrorCompare = new Counter({
      name: 'shadowplane_mirror_compare_total',
      help: 'Sampled copies of mirrors with a compare spec, by result (match, mismatch, incomplete)',
      labelNames: [...mirrorCluster, 'result'],
      registers,
    });
    new Gauge({
      name: 'shadowplane_mirror_compare_buffered_bytes',
      help: 'Response body bytes held for comparisons that have not finished',
      registers,
      collect() {
        this.set(buffers.compareBufferedBytes());
      },
    });
  }

  localReply(reason: LocalReplyReason): void {
    let cell = this.localReplyCells.get(reason);
    if (!cell) this.localReplyCells.set(reason, (cell = this.localReplies.get({ reason })));
    cell.value++;
  }

  /** The counters of a route (of any config version: the same labels share cells). */
  route(route: RouteSpec): RouteCounters {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = new RouteCounters(this, route)));
    return r;
  }

  mirrorCluster(name: string): MirrorClusterCounters {
    let c = this.mirrorClusters.get(name);
    if (!c) this.mirrorClusters.set(name, (c = new MirrorClusterCounters(this, name)));
    return c;
  }
}

export class RouteCounters {
  /** Primary responses by cluster, then by status class. */
  private readonly responses = new Map<string, Cell[]>();
  /** One per entry of the route's mirrorPolicies. */
  readonly policies: readonly PolicyCounters[];

  constructor(
    private readonly metrics: DataPlaneMetrics,
    private readonly spec: RouteSpec,
  ) {
    this.policies = spec.mirrorPolicies.map((p) => new PolicyCounters(metrics, spec.labels, p));
  }

  primaryResponse(cluster: string, status: number): void {
    let cells = this.responses.get(cluster);
    if (!cells) this.responses.set(cluster, (cells = statusCells(this.metrics.primaryResponses, { ...this.spec.labels, cluster })));
    cells[classIndex(status)]!.value++;
  }

  primaryDuration(seconds: number): void {
    this.metrics.primaryDuration.observe(this.spec.labels, seconds);
  }
}

export class PolicyCounters {
  readonly labels: RouteLabels & { readonly mirror: string };
  readonly eligible: Cell;
  readonly sampled: Cell;
  private readonly drops = new Map<string, Cell>();
  private readonly copies = new Map<string, CopyCounters>();

  constructor(
    private readonly metrics: DataPlaneMetrics,
    route: RouteLabels,
    policy: MirrorPolicySpec,
  ) {
    this.labels = { ...route, mirror: policy.label };
    this.eligible = metrics.mirrorEligible.get(this.labels);
    this.sampled = metrics.mirrorSampled.get(this.labels);
  }

  dropped(cluster: string, reason: MirrorDropReason): void {
    const key = `${cluster}\u0000${reason}`;
    let cell = this.drops.get(key);
    if (!cell) this.drops.set(key, (cell = this.metrics.mirrorDropped.get({ ...this.labels, cluster, reason })));
    cell.value++;
  }

  /** The counters of this policy's copies to `cluster`. */
  copy(cluster: string): CopyCounters {
    let c = this.copies.get(cluster);
    if (!c) this.copies.set(cluster, (c = new CopyCounters(this.metrics, this, cluster)));
    return c;
  }
}

export class CopyCounters {
  readonly labels: CopyLabels;
  readonly sent: Cell;
  readonly timeouts: Cell;
  readonly cluster: MirrorClusterCounters;
  private readonly responses: Cell[];
  private readonly errors = new Map<UpstreamFailure, Cell>();

  constructor(
    private readonly metrics: DataPlaneMetrics,
    private readonly policy: PolicyCounters,
    cluster: string,
  ) {
    this.labels = { ...policy.labels, cluster };
    this.sent = metrics.mirrorSent.get(this.labels);
    this.timeouts = metrics.mirrorTimeouts.get(this.labels);
    this.responses = statusCells(metrics.mirrorResponses, this.labels);
    this.cluster = metrics.mirrorCluster(cluster);
  }

  response(status: number): void {
    this.responses[classIndex(status)]!.value++;
  }

  error(kind: UpstreamFailure): void {
    let cell = this.errors.get(kind);
    if (!cell) this.errors.set(kind, (cell = this.metrics.mirrorErrors.get({ ...this.labels, kind })));
    cell.value++;
  }

  dropped(reason: MirrorDropReason): void {
    this.policy.dropped(this.labels.cluster, reason);
  }
}

export class MirrorClusterCounters {
  readonly inFlight: Cell;
  private readonly labels: { readonly cluster: string };

  constructor(
    private readonly metrics: DataPlaneMetrics,
    cluster: string,
  ) {
    this.labels = { cluster };
    this.inFlight = metrics.mirrorInFlight.get(this.labels);
  }

  duration(seconds: number): void {
    this.metrics.mirrorDuration.observe(this.labels, seconds);
  }
}
