// The built-in data plane on N worker processes (node:cluster): the primary keeps the one config feed
// (the snapshot cache of `serve`, or the xDS subscription of `proxy`) and hands every version to
// each worker; the workers bind the same listener addresses, which node:cluster shares (the primary
// holds each listening socket and passes connections round robin), so a worker that dies takes only
// its own connections with it. It is replaced, given the config in force, and the listener never
// closes. Metrics and mirror comparisons are gathered from every worker on request.
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import {
  DataPlaneClosedError,
  DataPlaneErrorCode,
  InvalidResourcesError,
  ListenerBindError,
  mergeComparisons,
  type ApplyError,
  type ApplyResult,
  type ComparisonSummary,
  type DataPlaneOptions,
  type RuntimeValues,
} from '../proxy/index.js';
import type { HostedDataPlane } from './hosted-data-plane.js';
import type { MetricsJson } from './metrics-source.js';
import { WORKER_ENV, type ApplyErrorData, type FromWorker, type ToWorker, type WorkerInit, type WorkerReplies, type WorkerRequest } from './worker-protocol.js';

const here = fileURLToPath(import.meta.url);
/** The worker's entry, next to this file (dist/…/.js, or src/…/.ts under tsx). */
const WORKER_ENTRY = path.join(path.dirname(here), `data-plane-worker${path.extname(here)}`);

/** A worker that dies this soon after starting is replaced only after a pause (doubling up to 30 s), not in a loop. */
const EARLY_EXIT_MS = 5000;
const MAX_RESTART_DELAY_MS = 30_000;
/** How long close() lets workers drain (the data plane's own drain is 5 s) before killing them. */
const CLOSE_TIMEOUT_MS = 10_000;

/** What a worker serves before its first config. */
const NOTHING: ResourceSet = { listeners: [], routes: [], clusters: [], endpoints: [] };

const WORKERS_METRIC = 'shadowplane_dataplane_workers';
const RESTARTS_METRIC = 'shadowplane_dataplane_worker_restarts_total';

export class WorkerGoneError extends Error {
  override readonly name = 'WorkerGoneError';
  constructor(pid: number | undefined) {
    super(`data-plane worker ${pid ?? '?'} exited`);
  }
}

function applyError(e: ApplyErrorData): ApplyError {
  if (e.code === DataPlaneErrorCode.LISTENER_BIND) return new ListenerBindError(e.problems);
  if (e.code === DataPlaneErrorCode.INVALID_RESOURCES) return new InvalidResourcesError(e.problems);
  return new DataPlaneClosedError();
}

/** One worker process and its requests in flight. */
class WorkerLink {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: never) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly startedAt = Date.now();
  /** What the worker's metrics were when last read. */
  lastMetrics: MetricsJson | undefined;

  constructor(readonly worker: Worker) {
    let onReady!: () => void;
    this.ready = new Promise((resolve) => (onReady = resolve));
    worker.on('message', (m: FromWorker) => {
      if (m.op === 'ready') onReady();
      else {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.reply as never);
      }
    });
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        for (const p of this.pending.values()) p.reject(new WorkerGoneError(this.pid));
        this.pending.clear();
        resolve();
      }),
    );
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  request<K extends WorkerRequest['op']>(m: Extract<WorkerRequest, { op: K }>): Promise<WorkerReplies[K]> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      if (this.worker.isDead() || !this.worker.isConnected()) return reject(new WorkerGoneError(this.pid));
      this.pending.set(id, { resolve: resolve as (r: never) => void, reject });
      this.worker.send({ ...m, id } satisfies ToWorker, (err: Error | null) => {
        if (!err) return;
        this.pending.delete(id);
        reject(new WorkerGoneError(this.pid));
      });
    });
  }
}

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** Where the pool counts its workers and restarts (the primary's registry). */
  readonly registry: Registry;
  readonly options?: DataPlaneOptions;
}

export class DataPlaneWorkers implements HostedDataPlane {
  /** By slot: a replacement takes the slot of the worker it replaces (the `worker` field of their log lines). */
  private readonly slots: Array<WorkerLink | undefined>;
  private readonly restarts: number[];
  /** The config in force: what a replacement worker gets before it serves. */
  private current: { resources: ResourceSet; runtime: RuntimeValues | undefined } | undefined;
  /** Applies and replacements run one at a time, so a replacement never misses a version. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly restartCount: Counter;
  private readonly init: Omit<WorkerInit, 'slot'>;
  /**
   * Counters and histograms of workers that died, as last read: kept in the sums so that an
   * aggregated counter never goes down when a worker is replaced (what it counted since then is lost).
   */
  private retired: Promise<MetricsJson | undefined> = Promise.resolve(undefined);

  private constructor(private readonly o: WorkerPoolOptions) {
    this.slots = new Array<WorkerLink | undefined>(o.workers).fill(undefined);
    this.restarts = new Array<number>(o.workers).fill(0);
    this.init = { logLevel: o.logger.level, bindings: o.logger.bindings(), options: o.options ?? {} };
    const slots = this.slots;
    new Gauge({
      name: WORKERS_METRIC,
      help: 'Data-plane worker processes running (--workers)',
      registers: [o.registry],
      collect() {
        this.set(slots.filter((s) => s !== undefined && !s.worker.isDead()).length);
      },
    });
    this.restartCount = new Counter({ name: RESTARTS_METRIC, help: 'Data-plane workers that exited and were replaced', registers: [o.registry] });
  }

  /** Forks the workers; resolves once every one has its data plane. */
  static async start(o: WorkerPoolOptions): Promise<DataPlaneWorkers> {
    // Every fork of this process runs the worker entry; structured clone carries the resources.
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], serialization: 'advanced' });
    const pool = new DataPlaneWorkers(o);
    const started = await Promise.all(pool.slots.map((_, i) => pool.fork(i)));
    if (started.some((l) => l === undefined)) {
      await pool.close();
      throw new Error('a data-plane worker exited while starting (see the log above)');
    }
    return pool;
  }

  /** Starts a worker in `slot`; undefined when it exits before it is ready. */
  private async fork(slot: number): Promise<WorkerLink | undefined> {
    const link = new WorkerLink(cluster.fork({ [WORKER_ENV]: JSON.stringify({ ...this.init, slot } satisfies WorkerInit) }));
    this.slots[slot] = link;
    link.worker.once('exit', (code, signal) => this.onExit(slot, link, code, signal));
    if (!(await Promise.race([link.ready.then(() => true), link.exited.then(() => false)]))) return undefined;
    this.o.logger.info({ worker: slot, workerPid: link.pid }, 'data-plane worker online');
    return link;
  }

  private onExit(slot: number, link: WorkerLink, code: number | null, signal: string | null): void {
    if (this.closed || this.slots[slot] !== link) return;
    this.slots[slot] = undefined;
    this.restartCount.inc();
    const early = Date.now() - link.startedAt < EARLY_EXIT_MS;
    this.restarts[slot] = early ? this.restarts[slot]! + 1 : 0;
    const delay = early ? Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** this.restarts[slot]!) : 0;
    this.retire(link);
    this.o.logger.error({ worker: slot, workerPid: link.pid, code, signal, replaceInMs: delay }, 'data-plane worker exited; replacing it (its listeners stay open in the other workers)');
    setTimeout(() => void this.serialized(() => this.replace(slot)), delay).unref();
  }

  /** A new worker in `slot`, given the config in force before it takes connections. */
  private async replace(slot: number): Promise<void> {
    if (this.closed || this.slots[slot] !== undefined) return;
    const link = await this.fork(slot);
    if (!link || !this.current) return;
    const r = await link.request({ op: 'apply', ...this.current }).catch((e: Error) => e);
    if (r instanceof Error || !r.ok) this.o.logger.error({ worker: slot, workerPid: link.pid, error: r instanceof Error ? r.message : r.error.message }, 'a replacement data-plane worker refused the config in force');
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private links(): WorkerLink[] {
    return this.slots.filter((s): s is WorkerLink => s !== undefined && !s.worker.isDead());
  }

  apply(resources: ResourceSet, runtime?: RuntimeValues): Promise<ApplyResult> {
    return this.serialized(() => this.applyNow(resources, runtime));
  }

  private async applyNow(resources: ResourceSet, runtime: RuntimeValues | undefined): Promise<ApplyResult> {
    if (this.closed) return { ok: false, error: new DataPlaneClosedError() };
    const links = this.links();
    const runtimeNow = runtime ?? this.current?.runtime;
    // A worker that dies meanwhile does not count: its replacement gets what the others accepted.
    const replies = await Promise.all(links.map((l) => l.request({ op: 'apply', resources, runtime: runtimeNow }).catch(() => undefined)));
    const refused = replies.find((r) => r !== undefined && !r.ok);
    if (refused && !refused.ok) {
      // Rejected whole: a worker that took the set goes back to the previous one (or to none).
      const previous = this.current ?? { resources: NOTHING, runtime: undefined };
      await Promise.all(links.filter((_, i) => replies[i]?.ok).map((l) => l.request({ op: 'apply', ...previous }).catch(() => undefined)));
      return { ok: false, error: applyError(refused.error) };
    }
    this.current = { resources, runtime: runtimeNow };
    return { ok: true };
  }

  async comparisons(): Promise<ComparisonSummary> {
    const read = await Promise.all(this.links().map((l) => l.request({ op: 'comparisons' }).catch(() => undefined)));
    return mergeComparisons(read.filter((c): c is ComparisonSummary => c !== undefined));
  }

  /** Each worker's metrics (and those of workers that died), for aggregation with the primary's. */
  async workerMetrics(): Promise<MetricsJson[]> {
    const links = this.links();
    const read = await Promise.all(links.map((l) => l.request({ op: 'metrics' }).catch(() => undefined)));
    links.forEach((l, i) => (l.lastMetrics = read[i] ?? l.lastMetrics));
    const retired = await this.retired;
    return [...read.filter((m): m is MetricsJson => m !== undefined), ...(retired ? [retired] : [])];
  }

  private retire(link: WorkerLink): void {
    const counted = link.lastMetrics?.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram');
    if (!counted?.length) return;
    this.retired = this.retired.then(async (before) => (await AggregatorRegistry.aggregate([...(before ? [before] : []), counted]).getMetricsAsJSON()) as MetricsJson);
  }

  /** The workers' pids, by slot (undefined while a slot is being replaced). */
  pids(): Array<number | undefined> {
    return this.slots.map((s) => s?.pid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const links = this.links();
    const timeout = setTimeout(() => {
      for (const l of links) if (!l.worker.isDead()) l.worker.process.kill('SIGKILL');
    }, CLOSE_TIMEOUT_MS);
    await Promise.all(links.map((l) => l.request({ op: 'close' }).catch(() => undefined)));
    await Promise.all(links.map((l) => l.exited));
    clearTimeout(timeout);
    this.o.registry.removeSingleMetric(WORKERS_METRIC);
    this.o.registry.removeSingleMetric(RESTARTS_METRIC);
  }
}
