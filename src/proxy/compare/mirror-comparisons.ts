// "New version verification": for each sampled copy of a policy with a compare spec, the copy's
// response against the primary's, counted once as match, mismatch or incomplete (either side failed,
// was cut off, or the copy was never sent), and the last mismatches kept for GET /mirror_diffs.
import type { Logger } from 'pino';
import type { ByteBudget } from '../byte-budget.js';
import type { CompareSpec, RouteLabels } from '../data-plane-config.js';
import type { CopyLabels, DataPlaneMetrics } from '../metrics.js';
import { ResponseCapture, type CapturedResponse, type ResponseTap } from './response-capture.js';
import type { HeaderChange } from '../request-headers.js';
import { compareResponses, type Difference } from './response-compare.js';

export type { Difference } from './response-compare.js';

type CompareResult = 'match' | 'mismatch' | 'incomplete';

/** One mismatch, as GET /mirror_diffs shows it. */
export interface MirrorDifferences {
  /** When the comparison finished (ISO 8601). */
  readonly at: string;
  readonly route: RouteLabels;
  readonly mirror: string;
  readonly cluster: string;
  readonly differences: readonly Difference[];
}

export interface ComparisonSummary {
  readonly match: number;
  readonly mismatch: number;
  readonly incomplete: number;
  /** The most recent mismatches, newest first. */
  readonly recent: readonly MirrorDifferences[];
}

/** How many mismatches are kept. */
const RECENT_MISMATCHES = 100;

export class MirrorComparisons {
  private readonly counts: Record<CompareResult, number> = { match: 0, mismatch: 0, incomplete: 0 };
  /** Oldest first; at most RECENT_MISMATCHES. */
  private readonly recent: MirrorDifferences[] = [];

  constructor(
    private readonly metrics: DataPlaneMetrics,
    private readonly budget: ByteBudget,
    private readonly logger: Logger,
  ) {}

  /**
   * A copy is being sent: returns the capture for its response, compared with the primary's once both
   * are in. `changes` are the request headers the copy carries differently by design.
   */
  start(labels: CopyLabels, spec: CompareSpec, primary: ResponseTap, changes: readonly HeaderChange[]): ResponseCapture {
    const p = primary.capture(spec, this.budget);
    const m = new ResponseCapture(spec, this.budget);
    void Promise.all([p.result, m.result]).then(([a, b]) => {
      try {
        this.finish(labels, spec, a, b, changes);
      } catch (err) {
        // Comparing is best effort, like the copy itself.
        this.logger.error({ err }, 'mirror response comparison failed');
      } finally {
        p.release();
        m.release();
      }
    });
    return m;
  }

  /** A sampled copy that was never sent. */
  notSent(labels: CopyLabels): void {
    this.count(labels, 'incomplete');
  }

  summary(): ComparisonSummary {
    return { ...this.counts, recent: [...this.recent].reverse() };
  }

  private finish(
    labels: CopyLabels,
    spec: CompareSpec,
    primary: CapturedResponse | undefined,
    mirror: CapturedResponse | undefined,
    changes: readonly HeaderChange[],
  ): void {
    if (!primary || !mirror) return this.count(labels, 'incomplete');
    const differences = compareResponses(spec, primary, mirror, changes);
    if (differences.length === 0) return this.count(labels, 'match');
    this.count(labels, 'mismatch');
    const { route_config, virtual_host, route, mirror: policy, cluster } = labels;
    this.recent.push({ at: new Date().toISOString(), route: { route_config, virtual_host, route }, mirror: policy, cluster, differences });
    if (this.recent.length > RECENT_MISMATCHES) this.recent.shift();
  }

  private count(labels: CopyLabels, result: CompareResult): void {
    this.counts[result]++;
    this.metrics.mirrorCompare.inc({ ...labels, result });
  }
}

/** The summaries of several data planes (worker processes) as one: counts added, mismatches newest first. */
export function mergeComparisons(summaries: readonly ComparisonSummary[]): ComparisonSummary {
  const recent = summaries.flatMap((s) => s.recent).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return {
    match: summaries.reduce((n, s) => n + s.match, 0),
    mismatch: summaries.reduce((n, s) => n + s.mismatch, 0),
    incomplete: summaries.reduce((n, s) => n + s.incomplete, 0),
    recent: recent.slice(0, RECENT_MISMATCHES),
  };
}
