// The built-in data plane: takes Envoy resources (as an xDS client or `translate()` produces them),
// serves their listeners, and forwards and mirrors requests with Envoy's semantics.
//
//   const plane = createDataPlane({ logger, registry });
//   const result = await plane.apply(resources, runtime);   // { ok: false, error } is a NACK
//   plane.comparisons();                                     // mirrors whose responses are compared
//   ...
//   await plane.close();
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { ByteBudget } from './byte-budget.js';
import { ClusterManager } from './cluster-manager.js';
import type { RouteConfigSpec } from './data-plane-config.js';
import { DataPlaneClosedError, InvalidResourcesError, ListenerBindError, type ApplyResult } from './errors.js';
import { handleExchange } from './exchange.js';
import { InternalListenerUpstream } from './internal-listener.js';
import { ListenerSet, listenerKey, type BoundListener } from './listener-set.js';
import { sendLocalReply } from './local-reply.js';
import { DataPlaneMetrics } from './metrics.js';
import { MirrorComparisons, type ComparisonSummary } from './compare/mirror-comparisons.js';
import { MirrorDispatcher } from './mirror/mirror-dispatcher.js';
import { parseResources } from './resources/parse-resources.js';
import { defaultLocalAddress } from './request-headers.js';
import { runtimeOverrides, type RuntimeOverrides, type RuntimeValues } from './mirror/runtime-fraction.js';

export interface DataPlaneOptions {
  /** Unread request-body bytes one copy may hold before it is dropped. Default 1 MiB (Envoy's buffer limit). */
  readonly mirrorCopyBufferBytes?: number;
  /** Unread request-body bytes all copies together may hold. Default 64 MiB. */
  readonly mirrorTotalBufferBytes?: number;
  /** Response body bytes all unfinished comparisons together may hold (primary and copy). Default 16 MiB. */
  readonly compareBufferBytes?: number;
  /** A header set on every copy, e.g. { name: 'x-shadowplane-mirror', value: '1' }. Off by default. */
  readonly mirrorMarkerHeader?: { readonly name: string; readonly value: string };
  /** What copies append to x-forwarded-for. Default: the first non-loopback IPv4 address, as Envoy. */
  readonly localAddress?: string;
  /** How long a removed listener (or close()) lets requests in flight finish. Default 5 s. */
  readonly drainTimeoutMs?: number;
}

export interface DataPlaneDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly options?: DataPlaneOptions;
}

export interface DataPlane {
  /**
   * Validates and applies a complete resource set, and optionally replaces the runtime values.
   * On `{ ok: false }` nothing changed. New requests see the new config; requests in flight finish on the old.
   */
  apply(resources: ResourceSet, runtime?: RuntimeValues): Promise<ApplyResult>;
  /** Replaces the runtime values (an RTDS layer): mirror runtime_key overrides. */
  setRuntime(runtime: RuntimeValues): void;
  /** The listeners being served, with their bound ports. */
  listeners(): BoundListener[];
  /** Mirrors with a compare spec: results since start, and the last 100 mismatches, newest first. */
  comparisons(): ComparisonSummary;
  /** Stops listening, lets requests in flight finish (up to drainTimeoutMs), and releases every upstream connection. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

class BuiltinDataPlane implements DataPlane {
  /** The applied config, as each listener sees it. Swapped whole; a request keeps the one it started with. */
  private routeConfigByListener: ReadonlyMap<string, RouteConfigSpec> = new Map();
  private runtime: RuntimeOverrides = new Map();
  private readonly metrics: DataPlaneMetrics;
  private readonly primaries = new ClusterManager();
  private readonly mirrorClusters = new ClusterManager(true);
  private readonly mirrors: MirrorDispatcher;
  private readonly compared: MirrorComparisons;
  private readonly listenerSet: ListenerSet;
  /** Applies run one at a time; a request on a listener that is still being added waits for it. */
  private applying: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly deps: DataPlaneDeps) {
    const o = deps.options ?? {};
    const budget = new ByteBudget(o.mirrorTotalBufferBytes ?? 64 * MiB);
    const compareBudget = new ByteBudget(o.compareBufferBytes ?? 16 * MiB);
    this.metrics = new DataPlaneMetrics(deps.registry, { mirrorBufferedBytes: () => budget.used, compareBufferedBytes: () => compareBudget.used });
    this.compared = new MirrorComparisons(this.metrics, compareBudget, deps.logger);
    this.mirrors = new MirrorDispatcher(
      this.mirrorClusters,
      budget,
      { copyBufferBytes: o.mirrorCopyBufferBytes ?? MiB, localAddress: o.localAddress ?? defaultLocalAddress(), marker: o.mirrorMarkerHeader },
      this.compared,
      deps.logger,
    );
    this.listenerSet = new ListenerSet((key, req, res) => this.onRequest(key, req, res), deps.logger, o.drainTimeoutMs ?? 5000);
  }

  apply(resources: ResourceSet, runtime?: RuntimeValues): Promise<ApplyResult> {
    const run = this.applying.then(() => this.applyNow(resources, runtime));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(resources: ResourceSet, runtime: RuntimeValues | undefined): Promise<ApplyResult> {
    if (this.closed) return { ok: false, error: new DataPlaneClosedError() };
    const parsed = parseResources(resources);
    if (!parsed.ok) return this.rejected(new InvalidResourcesError(parsed.problems));
    const bindProblems = await this.listenerSet.reconcile(parsed.config.listeners);
    if (bindProblems.length > 0) return this.rejected(new ListenerBindError(bindProblems));
    const config = parsed.config;
    // Each role sends through internal listeners on its own pools: a copy never takes a primary's.
    for (const clusters of [this.primaries, this.mirrorClusters]) {
      clusters.update(config.clusters, (name) => new InternalListenerUpstream(name, config.internalListeners.get(name), clusters));
    }
    if (runtime) this.setRuntime(runtime);
    this.routeConfigByListener = new Map(config.listeners.map((l) => [listenerKey(l), config.routeConfigs.get(l.routeConfigName)!]));
    this.metrics.configUpdates.inc({ result: 'accepted' });
    this.deps.logger.info(
      { listeners: config.listeners.length, routeConfigs: config.routeConfigs.size, clusters: config.clusters.size },
      'data plane config applied',
    );
    return { ok: true };
  }

  private rejected(error: InvalidResourcesError | ListenerBindError): ApplyResult {
    this.metrics.configUpdates.inc({ result: 'rejected' });
    this.deps.logger.warn({ code: error.code, problems: error.problems }, `data plane config rejected: ${error.message}`);
    return { ok: false, error };
  }

  setRuntime(runtime: RuntimeValues): void {
    this.runtime = runtimeOverrides(runtime);
  }

  listeners(): BoundListener[] {
    return this.listenerSet.bound();
  }

  comparisons(): ComparisonSummary {
    return this.compared.summary();
  }

  private onRequest(key: string, req: IncomingMessage, res: ServerResponse): void {
    const routeConfig = this.routeConfigByListener.get(key);
    if (routeConfig) {
      handleExchange(req, res, {
        routeConfig,
        runtime: this.runtime,
        primaries: this.primaries,
        mirrors: this.mirrors,
        metrics: this.metrics,
        logger: this.deps.logger,
      });
      return;
    }
    // The listener was opened by an apply that has not swapped its config in yet.
    void this.applying.then(() => {
      if (this.routeConfigByListener.has(key)) this.onRequest(key, req, res);
      else sendLocalReply(res, 'no_route');
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.applying;
    await this.listenerSet.close(this.deps.options?.drainTimeoutMs ?? 5000);
    this.mirrors.abortAll();
    await Promise.all([this.primaries.close(false), this.mirrorClusters.close(true)]);
  }
}

export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  return new BuiltinDataPlane(deps);
}
