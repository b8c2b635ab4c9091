// Subscribes to a control plane the way Envoy does over ADS — runtime layers by name, clusters and
// listeners as wildcards, then endpoints for each EDS cluster and route configurations for each
// listener's RDS name — and hands every complete resource set to `apply`, whose verdict becomes the
// ACK or the NACK. Reconnects with backoff when the stream ends, as Envoy does. Like Envoy, a listener
// whose route configuration has not arrived yet is warming: it is left out (or its previous version
// kept) until the routes come, rather than rejected.
import { EventEmitter } from 'node:events';
import type { DecodedResponse } from '../envoy-api/discovery-codec.js';
import { decodeTyped, type TypedJson } from '../envoy-api/proto-json.js';
import { rdsRouteConfigNames, resourceReferences } from '../envoy-api/resource-references.js';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { AdsClient, type AdsClientOptions } from './ads-client.js';

export interface SubscriberOptions {
  readonly target: string;
  readonly node: { readonly id: string; readonly cluster: string };
  readonly runtimeLayers: readonly string[];
  /** Applies a complete set (its runtime: the layers in `runtimeLayers` order); a string rejects it (NACK) and the previous set stays. */
  readonly apply: (set: ResourceSet) => Promise<string | undefined>;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** TLS for the stream (see AdsClientOptions); plaintext without. */
  readonly credentials?: AdsClientOptions['credentials'];
  readonly channelOptions?: AdsClientOptions['channelOptions'];
}

export interface SubscriberEvents {
  disconnected: [error: Error | undefined];
  applied: [set: ResourceSet];
  rejected: [typeUrl: string, reason: string];
}

const KEY: Record<string, keyof ResourceSet> = {
  [TypeUrl.Listener]: 'listeners',
  [TypeUrl.RouteConfiguration]: 'routes',
  [TypeUrl.Cluster]: 'clusters',
  [TypeUrl.ClusterLoadAssignment]: 'endpoints',
  [TypeUrl.Runtime]: 'runtime',
};

export class EnvoyLikeSubscriber extends EventEmitter<SubscriberEvents> {
  /** What the control plane has sent and this client accepted. */
  private current: ResourceSet = { listeners: [], routes: [], clusters: [], endpoints: [], runtime: [] };
  /** What was last handed to `apply` (warming listeners excluded). */
  private applied: ResourceSet = this.current;
  private runtimeLayers = new Map<string, TypedJson>();
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
    const client = new AdsClient({
      target: this.o.target,
      node: this.o.node,
      ...(this.o.credentials ? { credentials: this.o.credentials } : {}),
      ...(this.o.channelOptions ? { channelOptions: this.o.channelOptions } : {}),
      onResponse: (r) => this.onResponse(r),
    });
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
    const refs = resourceReferences(this.current);
    if (this.current.clusters.length > 0) client.subscribe(TypeUrl.ClusterLoadAssignment, refs.endpoints);
    if (this.current.listeners.length > 0) client.subscribe(TypeUrl.RouteConfiguration, refs.routes);
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
      for (const d of decoded) layers.set(String(d.name), d);
      candidate = { ...this.current, runtime: this.o.runtimeLayers.flatMap((name) => layers.get(name) ?? []) };
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
    if (key === 'clusters') this.client?.subscribe(TypeUrl.ClusterLoadAssignment, resourceReferences(candidate).endpoints);
    if (key === 'listeners') this.client?.subscribe(TypeUrl.RouteConfiguration, resourceReferences(candidate).routes);
    return undefined;
  }

  /** The set with warming listeners replaced by the version last applied, or left out. */
  private warmed(set: ResourceSet): ResourceSet {
    const routeNames = new Set(set.routes.map((r) => String(r.name)));
    const ready = (l: TypedJson): boolean => rdsRouteConfigNames(l).every((n) => routeNames.has(n));
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
