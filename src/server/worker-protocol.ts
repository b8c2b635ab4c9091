// The messages between the primary process and its data-plane worker processes (node:cluster IPC,
// structured clone). The primary asks, a worker answers with the same id; a worker says `ready` once
// its data plane exists.
import type { ResourceSet } from '../envoy-api/resource-set.js';
import type { ComparisonSummary, DataPlaneOptions, ResourceProblem, RuntimeValues } from '../proxy/index.js';
import type { MetricsJson } from './metrics-source.js';

/** What a worker is started with (the environment variable WORKER_ENV, as JSON). */
export interface WorkerInit {
  readonly logLevel: string;
  /** The primary data-plane logger's bindings, so a worker's lines read like in-process ones. */
  readonly bindings: Record<string, unknown>;
  readonly options: DataPlaneOptions;
  /** The worker's place in the pool (kept by its replacement): the `worker` field of its log lines. */
  readonly slot: number;
}

export const WORKER_ENV = 'SHADOWPLANE_DATA_PLANE_WORKER';

export type WorkerRequest =
  | { readonly op: 'apply'; readonly resources: ResourceSet; readonly runtime: RuntimeValues | undefined }
  | { readonly op: 'comparisons' }
  | { readonly op: 'metrics' }
  | { readonly op: 'close' };

/** An ApplyError as it crosses the process boundary. */
export interface ApplyErrorData {
  readonly code: string;
  readonly message: string;
  readonly problems: readonly ResourceProblem[];
}

export interface WorkerReplies {
  apply: { readonly ok: true } | { readonly ok: false; readonly error: ApplyErrorData };
  comparisons: ComparisonSummary;
  metrics: MetricsJson;
  close: Record<string, never>;
}

export type ToWorker = WorkerRequest & { readonly id: number };

export type FromWorker = { readonly op: 'ready' } | { readonly op: 'reply'; readonly id: number; readonly reply: WorkerReplies[keyof WorkerReplies] };
