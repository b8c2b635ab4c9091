// Every mirror policy with its traffic, for the status page: the policies come from the model (so a
// policy shows before its first copy, and with Envoy as the data plane too), the counters from the
// built-in data plane's Prometheus metrics when this process hosts it. A sampler keeps the last
// minutes of totals so the page's chart has history as soon as it opens.
import { fractionToPercent } from '../model/fraction.js';
import type { MirrorPolicy, Model } from '../model/types.js';
import { mirrorClusterName } from '../translate/mirror-policy.js';
import { routeConfigurationName } from '../translate/route-configuration.js';
import type { MetricsSource } from './metrics-source.js';

/** Counters of one policy, summed over the clusters it sent to. */
export interface MirrorCounters {
  eligible: number;
  sampled: number;
  sent: number;
  dropped: Record<string, number>;
  /** Mirror responses by status class (2xx, 5xx, …). */
  responses: Record<string, number>;
  timeouts: number;
  errors: number;
  /** Response comparison results (match, mismatch, incomplete); empty when not compared. */
  compare: Record<string, number>;
}

export interface MirrorPolicyStats {
  readonly routeConfig: string;
  readonly virtualHost: string;
  readonly route: string;
  /** The mirror's metric label: its cluster, or `header:NAME` for a header-selected one. */
  readonly mirror: string;
  /** The clusters copies went to (a header-selected mirror may reach several). */
  readonly clusters: string[];
  /** Configured sampling percentage; null for a policy seen only in the metrics. */
  readonly percent: number | null;
  /** null when no built-in data plane runs in this process (Envoy keeps its own counters). */
  readonly counters: MirrorCounters | null;
}

/** One policy's running totals at a sample: what the page's chart can plot as a rate. */
export interface SampleTotals {
  readonly eligible: number;
  readonly sampled: number;
  readonly sent: number;
  readonly dropped: number;
  /** Mirror responses by status class (2xx, 5xx, …). */
  readonly responses: Record<string, number>;
  /** Copies that timed out or failed (no response). */
  readonly failed: number;
}

/** Totals of every policy at one moment, keyed like MirrorStats rows. */
export interface StatsSample {
  readonly at: number;
  readonly totals: Record<string, SampleTotals>;
}

export interface MirrorStatsJson {
  readonly policies: readonly MirrorPolicyStats[];
  /** Oldest first, one every `sampleEveryMs`. */
  readonly history: readonly StatsSample[];
  readonly sampleEveryMs: number;
}

const METRICS = {
  eligible: 'shadowplane_mirror_eligible_total',
  sampled: 'shadowplane_mirror_sampled_total',
  sent: 'shadowplane_mirror_sent_total',
  dropped: 'shadowplane_mirror_dropped_total',
  responses: 'shadowplane_mirror_responses_total',
  timeouts: 'shadowplane_mirror_timeouts_total',
  errors: 'shadowplane_mirror_errors_total',
  compare: 'shadowplane_mirror_compare_total',
} as const;

type Labels = Partial<Record<string, string | number>>;

/**
 * Allowlists are enforced with route variants named `ROUTE/mirror:HEADER=VALUE…` whose policy pins
 * the allowed VALUE as its cluster (translate/mirror-policy.ts). Their copies count as the route's
 * header-selected policy, `header:HEADER`.
 */
function policyOf(route: string, mirror: string): { route: string; mirror: string } {
  const at = route.indexOf('/mirror:');
  if (at < 0) return { route, mirror };
  const pinned = route
    .slice(at)
    .split('/mirror:')
    .slice(1)
    .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as const)
    .find(([, value]) => value === mirror);
  return { route: route.slice(0, at), mirror: pinned ? `header:${pinned[0]}` : mirror };
}

export function policyKey(routeConfig: string, virtualHost: string, route: string, mirror: string): string {
  return [routeConfig, virtualHost, route, mirror].join('\u0000');
}

/** As the data plane labels the policy: the cluster Envoy mirrors to (a path's internal one), or `header:NAME`. */
function mirrorLabel(m: MirrorPolicy): string {
  return m.target.kind === 'cluster' ? mirrorClusterName(m.target.cluster, m.path) : `header:${m.target.header}`;
}

function emptyCounters(): MirrorCounters {
  return { eligible: 0, sampled: 0, sent: 0, dropped: {}, responses: {}, timeouts: 0, errors: 0, compare: {} };
}

/** The policies in effect on each route, as Envoy applies them: the route's own, else its virtual host's, else its listener's. */
function modelPolicies(model: Model, counted: boolean): MirrorPolicyStats[] {
  const out: MirrorPolicyStats[] = [];
  for (const l of model.listeners) {
    for (const v of l.virtualHosts) {
      for (const r of v.routes) {
        const list = r.mirrors.length > 0 ? r.mirrors : v.mirrors.length > 0 ? v.mirrors : l.mirrors;
        for (const m of list) {
          out.push({
            routeConfig: routeConfigurationName(l),
            virtualHost: v.name,
            route: r.name,
            mirror: mirrorLabel(m),
            clusters: (m.target.kind === 'cluster' ? [m.target.cluster] : [...(m.target.allowed ?? [])]).map((c) => mirrorClusterName(c, m.path)),
            percent: fractionToPercent(m.fraction),
            counters: counted ? emptyCounters() : null,
          });
        }
      }
    }
  }
  return out;
}

export interface MirrorStatsOptions {
  readonly model: () => Model | undefined;
  /** The built-in data plane's metrics (across its workers); undefined without one. */
  readonly metrics: MetricsSource | undefined;
  readonly sampleEveryMs?: number;
  /** How many samples are kept. */
  readonly keep?: number;
}

export class MirrorStats {
  private readonly history: StatsSample[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly sampleEveryMs: number;
  private readonly keep: number;

  constructor(private readonly o: MirrorStatsOptions) {
    this.sampleEveryMs = o.sampleEveryMs ?? 2000;
    this.keep = o.keep ?? 300;
    if (o.metrics) {
      this.timer = setInterval(() => void this.sample(), this.sampleEveryMs);
      this.timer.unref();
    }
  }

  async json(): Promise<MirrorStatsJson> {
    return { policies: await this.policies(), history: [...this.history], sampleEveryMs: this.sampleEveryMs };
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    const totals: StatsSample['totals'] = {};
    for (const p of await this.policies()) {
      if (!p.counters) continue;
      const dropped = Object.values(p.counters.dropped).reduce((a, b) => a + b, 0);
      const c = p.counters;
      totals[policyKey(p.routeConfig, p.virtualHost, p.route, p.mirror)] = { eligible: c.eligible, sampled: c.sampled, sent: c.sent, dropped, responses: { ...c.responses }, failed: c.timeouts + c.errors };
    }
    this.history.push({ at: Date.now(), totals });
    if (this.history.length > this.keep) this.history.shift();
  }

  private async policies(): Promise<MirrorPolicyStats[]> {
    const model = this.o.model();
    const rows = new Map<string, MirrorPolicyStats>();
    for (const p of model ? modelPolicies(model, this.o.metrics !== undefined) : []) rows.set(policyKey(p.routeConfig, p.virtualHost, p.route, p.mirror), p);
    if (!this.o.metrics) return [...rows.values()];
    const metrics = await this.o.metrics.json();
    for (const [field, name] of Object.entries(METRICS) as Array<[keyof MirrorCounters, string]>) {
      const metric = metrics.find((m) => m.name === name);
      for (const { value, labels } of (metric?.values ?? []) as Array<{ value: number; labels: Labels }>) {
        const { route, mirror } = policyOf(String(labels.route), String(labels.mirror));
        const key = policyKey(String(labels.route_config), String(labels.virtual_host), route, mirror);
        let row = rows.get(key);
        if (!row) {
          // A policy the model does not list (applied from elsewhere, or an older version still draining).
          row = {
            routeConfig: String(labels.route_config),
            virtualHost: String(labels.virtual_host),
            route,
            mirror,
            clusters: [],
            percent: null,
            counters: emptyCounters(),
          };
          rows.set(key, row);
        }
        const c = row.counters!;
        const cluster = labels.cluster === undefined ? undefined : String(labels.cluster);
        if (cluster && !row.clusters.includes(cluster)) row.clusters.push(cluster);
        const by = field === 'dropped' ? labels.reason : field === 'responses' ? labels.status_class : field === 'compare' ? labels.result : undefined;
        if (by !== undefined) {
          const bucket = c[field] as Record<string, number>;
          bucket[String(by)] = (bucket[String(by)] ?? 0) + value;
        } else {
          (c[field] as number) += value;
        }
      }
    }
    return [...rows.values()];
  }
}
