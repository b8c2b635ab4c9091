// The built-in data plane as serve and proxy host it: in this process (--workers 1), or on worker
// processes (data-plane-workers.ts). Either way one config feed applies to it, and its metrics and
// mirror comparisons read as one data plane's.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { createDataPlane, type ApplyResult, type ComparisonSummary, type DataPlaneOptions, type RuntimeValues } from '../proxy/index.js';
import { DataPlaneWorkers } from './data-plane-workers.js';
import { aggregatedMetrics, registryMetrics, type MetricsSource } from './metrics-source.js';

export interface HostedDataPlane {
  /** Applies a complete resource set everywhere; `{ ok: false }` (a NACK) leaves the previous one in force everywhere. */
  apply(resources: ResourceSet, runtime?: RuntimeValues): Promise<ApplyResult>;
  /** Mirror response comparisons, merged across workers. */
  comparisons(): Promise<ComparisonSummary>;
  close(): Promise<void>;
}

export interface HostOptions {
  /** Worker processes; 1 runs the data plane in this process. */
  readonly workers: number;
  readonly logger: Logger;
  /** This process's registry: the in-process data plane's metrics go there; workers' are aggregated with it. */
  readonly registry: Registry;
  readonly options?: DataPlaneOptions;
}

/** The data plane, and the metrics of this process with the data plane's, as /metrics serves them. */
export async function hostDataPlane(o: HostOptions): Promise<{ plane: HostedDataPlane; metrics: MetricsSource }> {
  if (o.workers > 1) {
    const pool = await DataPlaneWorkers.start({ workers: o.workers, logger: o.logger, registry: o.registry, ...(o.options ? { options: o.options } : {}) });
    return { plane: pool, metrics: aggregatedMetrics(o.registry, () => pool.workerMetrics()) };
  }
  const plane = createDataPlane({ logger: o.logger, registry: o.registry, ...(o.options ? { options: o.options } : {}) });
  return {
    plane: {
      apply: (resources, runtime) => plane.apply(resources, runtime),
      comparisons: async () => plane.comparisons(),
      close: () => plane.close(),
    },
    metrics: registryMetrics(o.registry),
  };
}
