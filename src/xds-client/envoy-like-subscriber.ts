// Subscribes to a control plane the way Envoy does over ADS — runtime layers by name, clusters and
// listeners as wildcards, then endpoints for each EDS cluster and route configurations for each
// listener's RDS name — and hands every complete resource set to `apply`, whose verdict becomes the
// ACK or the NACK. Reconnects with backoff when the stream ends, as Envoy does. Like Envoy, a listener
// whose route configuration has not arrived yet is warming: it is left out (or its previous version
// kept) until the routes come, rather than rejected.
import { EventEmitter } from 'node:events';
import { decodeTyped, type JsonObject, type TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { AdsClient } from './ads-client.js';
import type { DecodedResponse } from '../envoy-api/discovery-codec.js';

export interface ResourceSet {
  readonly listeners: readonly TypedJson[];
  readonly routes: readonly TypedJson[];
  readonly clusters: readonly TypedJson[];
  readonly endpoints: readonly TypedJson[];
  /** The runtime layers' entries merged, later layers winning. */
  readonly runtime: JsonObject;
}

export interface SubscriberOptions {
  readonly target: string;
  readonly node: { readonly id: string; readonly cluster: string };
  readonly runtimeLayers: readonly string[];
  /** Applies a complete set; a string rejects it (NACK) and the previous set stays. */
  readonly apply: (set: ResourceSet) => Promise<string | undefined>;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export interface SubscriberEvents {
  disconnected: [error: Error | undefined];
  applied: [set: ResourceSet];
  rejected: [typeUrl: string, reason: string];
}

const KEY: Record<string, keyof Omit<ResourceSet, 'runtime'> | 'runtime'> = {
  [TypeUrl.Listener]: 'listeners',
  [TypeUrl.RouteConfiguration]: 'routes',
  [TypeUrl.Cluster]: 'clusters',
  [TypeUrl.ClusterLoadAssignment]: 'endpoints',
  [TypeUrl.Runtime]: 'runtime',
};

export function edsNames(clusters: readonly TypedJson[]): string[] {
  return clusters.filter((c) => c.type === 'EDS').map((c) => String(c.name)).sort();
}

export function rdsNames(listeners: readonly TypedJson[]): string[] {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'route_config_name' && typeof x === 'string') names.add(x);
        else walk(x);
      }
    }
  };
  walk(listeners);
  return [...names].sort();
}

export class EnvoyLikeSubscriber extends EventEmitter<SubscriberEvents> {
  /** What the control plane has sent and this client accepted. */
  private current: ResourceSet = { listeners: [], routes: [], clusters: [], endpoints: [], runtime: {} };
  /** What was last handed to `apply` (warming listeners excluded). */
  private applied: ResourceSet = this.current;
  private runtimeLayers = new Map<string, JsonObject>();
  private client: AdsClient | undefined;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: SubscriberOptions) {
    super();
    this.backoff = o.backoffMs?.initial ?? 500;
  }

  get resources(): ResourceSet {
    return this.current;
  }

  start(): void {
    const client = new AdsClient({ target: this.o.target, node: this.o.node, onResponse: (r) => this.onResponse(r) });
    this.client = client;
    client.on('closed', (e) => {
      client.close();
      if (this.stopped) return;
      this.emit('disconnected', e);
      this.timer = setTimeout(() => this.start(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, this.o.backoffMs?.max ?? 30_000);
    });
    client.start();
    if (this.o.runtimeLayers.length > 0) client.subscribe(TypeUrl.Runtime, this.o.runtimeLayers);
    client.subscribe(TypeUrl.Cluster, []);
    client.subscribe(TypeUrl.Listener, []);
    if (this.current.clusters.length > 0) client.subscribe(TypeUrl.ClusterLoadAssignment, edsNames(this.current.clusters));
    if (this.current.listeners.length > 0) client.subscribe(TypeUrl.RouteConfiguration, rdsNames(this.current.listeners));
  }

  private async onResponse(r: DecodedResponse): Promise<string | undefined> {
    const key = KEY[r.typeUrl];
    if (!key) return `unsupported type ${r.typeUrl}`;
    this.backoff = this.o.backoffMs?.initial ?? 500;
    const decoded = r.resources.map((x) => decodeTyped(x.typeUrl, x.value));
    let candidate: ResourceSet;
    let layers = this.runtimeLayers;
    if (key === 'runtime') {
      layers = new Map(this.runtimeLayers);
      for (const d of decoded) layers.set(String(d.name), (d.layer ?? {}) as JsonObject);
      const runtime: JsonObject = {};
      for (const name of this.o.runtimeLayers) Object.assign(runtime, layers.get(name) ?? {});
      candidate = { ...this.current, runtime };
    } else {
      candidate = { ...this.current, [key]: decoded };
    }
    const error = await this.o.apply(this.warmed(candidate));
    if (error !== undefined) {
      this.emit('rejected', r.typeUrl, error);
      return error;
    }
    this.current = candidate;
    this.applied = this.warmed(candidate);
    this.runtimeLayers = layers;
    this.emit('applied', this.applied);
    if (key === 'clusters') this.client?.subscribe(TypeUrl.ClusterLoadAssignment, edsNames(candidate.clusters));
    if (key === 'listeners') this.client?.subscribe(TypeUrl.RouteConfiguration, rdsNames(candidate.listeners));
    return undefined;
  }

  /** The set with warming listeners replaced by the version last applied, or left out. */
  private warmed(set: ResourceSet): ResourceSet {
    const routeNames = new Set(set.routes.map((r) => String(r.name)));
    const ready = (l: TypedJson): boolean => rdsNames([l]).every((n) => routeNames.has(n));
    const applied = new Map(this.applied.listeners.map((l) => [String(l.name), l]));
    const listeners = set.listeners.flatMap((l) => {
      if (ready(l)) return [l];
      const previous = applied.get(String(l.name));
      return previous && ready(previous) ? [previous] : [];
    });
    return { ...set, listeners };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client?.close();
  }
}
