// Prometheus metrics of the ADS server, on a registry the caller owns (one per process).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The per-type series, bound once: a push or an ACK then costs no label lookup. */
export interface TypeMetrics {
  readonly pushes: { inc(v?: number): void };
  readonly pushBytes: { inc(v?: number): void };
  readonly acks: { inc(v?: number): void };
  readonly nacks: { inc(v?: number): void };
  readonly changeToAck: { observe(v: number): void };
}

export interface XdsMetrics {
  readonly streams: Counter<'protocol'>;
  readonly activeStreams: Gauge<'protocol'>;
  readonly pushes: Counter<'type'>;
  readonly pushBytes: Counter<'type'>;
  readonly acks: Counter<'type'>;
  readonly nacks: Counter<'type'>;
  readonly configVersions: Counter<'result'>;
  readonly changeToAck: Histogram<'type'>;
  readonly identityRejections: Counter<'protocol' | 'reason'>;
  /** The series of one type (its short name: CDS, EDS…). */
  forType(type: string): TypeMetrics;
}

export function createXdsMetrics(registry: Registry): XdsMetrics {
  const registers = [registry];
  const byType = new Map<string, TypeMetrics>();
  const m: Omit<XdsMetrics, 'forType'> = {
    streams: new Counter({ name: 'shadowplane_xds_streams_total', help: 'ADS streams opened', labelNames: ['protocol'], registers }),
    activeStreams: new Gauge({ name: 'shadowplane_xds_active_streams', help: 'ADS streams open now', labelNames: ['protocol'], registers }),
    pushes: new Counter({ name: 'shadowplane_xds_pushes_total', help: 'Discovery responses sent', labelNames: ['type'], registers }),
    pushBytes: new Counter({ name: 'shadowplane_xds_push_bytes_total', help: 'Bytes of discovery responses sent', labelNames: ['type'], registers }),
    acks: new Counter({ name: 'shadowplane_xds_acks_total', help: 'Responses acknowledged', labelNames: ['type'], registers }),
    nacks: new Counter({ name: 'shadowplane_xds_nacks_total', help: 'Responses rejected by a proxy', labelNames: ['type'], registers }),
    configVersions: new Counter({ name: 'shadowplane_config_versions_total', help: 'Config loads by result', labelNames: ['result'], registers }),
    changeToAck: new Histogram({
      name: 'shadowplane_xds_change_to_ack_seconds',
      help: 'Time from a config version being published to a proxy acknowledging it, per type',
      labelNames: ['type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    identityRejections: new Counter({
      name: 'shadowplane_xds_identity_rejections_total',
      help: 'ADS streams refused because the node they claim is not an identity of the client certificate (mutual TLS)',
      labelNames: ['protocol', 'reason'],
      registers,
    }),
  };
  return {
    ...m,
    forType(type) {
      let t = byType.get(type);
      if (!t) {
        const labels = { type };
        t = { pushes: m.pushes.labels(labels), pushBytes: m.pushBytes.labels(labels), acks: m.acks.labels(labels), nacks: m.nacks.labels(labels), changeToAck: m.changeToAck.labels(labels) };
        byType.set(type, t);
      }
      return t;
    },
  };
}
