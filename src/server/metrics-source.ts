// What /metrics and /mirror_stats read: a process's own registry, or that registry with the data
// plane's worker processes' metrics, aggregated the way prom-client's AggregatorRegistry does for a
// cluster (counters and histograms summed, each default metric by its own rule).
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface MetricsSource {
  readonly contentType: string;
  /** The Prometheus text exposition. */
  text(): Promise<string>;
  json(): Promise<MetricsJson>;
}

export function registryMetrics(registry: Registry): MetricsSource {
  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    json: () => registry.getMetricsAsJSON() as Promise<MetricsJson>,
  };
}

/** `registry`'s metrics with those `others` returns (one list per process), aggregated into one set. */
export function aggregatedMetrics(registry: Registry, others: () => Promise<MetricsJson[]>): MetricsSource {
  const aggregate = async (): Promise<Registry> => AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...(await others())]);
  return {
    contentType: registry.contentType,
    text: async () => (await aggregate()).metrics(),
    json: async () => (await (await aggregate()).getMetricsAsJSON()) as MetricsJson,
  };
}
