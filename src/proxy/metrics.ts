// The data path's metrics on the injected prom-client Registry. Label values come from the config
// (route, virtual host, cluster names) or from fixed sets (reasons, status classes), never from a
// request: a header naming an unknown cluster is counted under cluster="".
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RouteLabels } from './data-plane-config.js';
import type { LocalReplyReason } from './local-reply.js';

type RouteLabel = keyof RouteLabels;
type MirrorLabel = RouteLabel | 'mirror';
type MirrorClusterLabel = MirrorLabel | 'cluster';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

export class DataPlaneMetrics {
  readonly configUpdates: Counter<'result'>;
  readonly localReplies: Counter<'reason'>;
  readonly primaryResponses: Counter<RouteLabel | 'cluster' | 'status_class'>;
  readonly primaryDuration: Histogram<RouteLabel>;
  readonly mirrorEligible: Counter<MirrorLabel>;
  readonly mirrorSampled: Counter<MirrorLabel>;
  readonly mirrorSent: Counter<MirrorClusterLabel>;
  readonly mirrorResponses: Counter<MirrorClusterLabel | 'status_class'>;
  readonly mirrorTimeouts: Counter<MirrorClusterLabel>;
  readonly mirrorErrors: Counter<MirrorClusterLabel | 'kind'>;
  readonly mirrorDropped: Counter<MirrorClusterLabel | 'reason'>;
  readonly mirrorDuration: Histogram<'cluster'>;
  readonly mirrorInFlight: Gauge<'cluster'>;
  readonly mirrorBufferedBytes: Gauge;
  readonly mirrorCompare: Counter<MirrorClusterLabel | 'result'>;
  readonly compareBufferedBytes: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const route: RouteLabel[] = ['route_config', 'virtual_host', 'route'];
    const mirror: MirrorLabel[] = [...route, 'mirror'];
    const mirrorCluster: MirrorClusterLabel[] = [...mirror, 'cluster'];
    this.configUpdates = new Counter({
      name: 'shadowplane_dataplane_config_updates_total',
      help: 'Resource sets given to the data plane, by result (accepted, rejected)',
      labelNames: ['result'],
      registers,
    });
    this.localReplies = new Counter({
      name: 'shadowplane_local_replies_total',
      help: 'Responses the data plane made itself instead of an upstream, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.primaryResponses = new Counter({
      name: 'shadowplane_primary_responses_total',
      help: 'Upstream responses relayed to clients, by route, cluster and status class',
      labelNames: [...route, 'cluster', 'status_class'],
      registers,
    });
    this.primaryDuration = new Histogram({
      name: 'shadowplane_primary_duration_seconds',
      help: 'Time from a request to the end of its response (primary exchange), by route',
      labelNames: route,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.mirrorEligible = new Counter({
      name: 'shadowplane_mirror_eligible_total',
      help: 'Requests a mirror policy applied to, before sampling',
      labelNames: mirror,
      registers,
    });
    this.mirrorSampled = new Counter({
      name: 'shadowplane_mirror_sampled_total',
      help: 'Requests a mirror policy sampled in (runtime fraction)',
      labelNames: mirror,
      registers,
    });
    this.mirrorSent = new Counter({
      name: 'shadowplane_mirror_sent_total',
      help: 'Copies dispatched to a mirror cluster',
      labelNames: mirrorCluster,
      registers,
    });
    this.mirrorResponses = new Counter({
      name: 'shadowplane_mirror_responses_total',
      help: 'Mirror responses (drained and discarded), by status class',
      labelNames: [...mirrorCluster, 'status_class'],
      registers,
    });
    this.mirrorTimeouts = new Counter({
      name: 'shadowplane_mirror_timeouts_total',
      help: 'Copies cut off by the route timeout or the mirror cluster max_stream_duration',
      labelNames: mirrorCluster,
      registers,
    });
    this.mirrorErrors = new Counter({
      name: 'shadowplane_mirror_errors_total',
      help: 'Copies that failed upstream, by kind (connect_failure, connect_timeout, reset)',
      labelNames: [...mirrorCluster, 'kind'],
      registers,
    });
    this.mirrorDropped = new Counter({
      name: 'shadowplane_mirror_dropped_total',
      help: 'Copies not sent, or abandoned before their body was sent, by reason',
      labelNames: [...mirrorCluster, 'reason'],
      registers,
    });
    this.mirrorDuration = new Histogram({
      name: 'shadowplane_mirror_duration_seconds',
      help: 'Time from dispatching a copy to the end of its response, by mirror cluster',
      labelNames: ['cluster'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.mirrorInFlight = new Gauge({
      name: 'shadowplane_mirror_in_flight',
      help: 'Copies in flight, by mirror cluster',
      labelNames: ['cluster'],
      registers,
    });
    this.mirrorBufferedBytes = new Gauge({
      name: 'shadowplane_mirror_buffered_bytes',
      help: 'Request body bytes held for copies that their mirrors have not read yet',
      registers,
    });
    this.mirrorCompare = new Counter({
      name: 'shadowplane_mirror_compare_total',
      help: 'Sampled copies of mirrors with a compare spec, by result (match, mismatch, incomplete)',
      labelNames: [...mirrorCluster, 'result'],
      registers,
    });
    this.compareBufferedBytes = new Gauge({
      name: 'shadowplane_mirror_compare_buffered_bytes',
      help: 'Response body bytes held for comparisons that have not finished',
      registers,
    });
  }

  localReply(reason: LocalReplyReason): void {
    this.localReplies.inc({ reason });
  }
}
