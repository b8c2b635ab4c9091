// Upstream clusters for one role (primaries, or mirrors): an undici Pool per endpoint (or, for an
// endpoint that is an internal listener, what the caller makes for it), smooth weighted round robin
// over the endpoints, and an in-flight cap from the cluster's circuit breakers.
// Primaries and mirrors each get their own ClusterManager, so a copy never takes a primary's
// connection or slot. Nothing here queues without bound: a request that finds the cap full is
// refused at once, and undici's own queue holds at most the cap minus the busy connections.
import type { Socket } from 'node:net';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { resetWhenAborted } from './connection-reset.js';
import type { ClusterSpec, SocketEndpointSpec } from './data-plane-config.js';

/** Smooth weighted round robin: over any window, each endpoint gets its share, interleaved. */
class WeightedRoundRobin {
  private readonly current: number[];
  private readonly total: number;

  constructor(private readonly weights: readonly number[]) {
    this.current = weights.map(() => 0);
    this.total = weights.reduce((s, w) => s + w, 0);
  }

  next(): number {
    let best = 0;
    for (let i = 0; i < this.weights.length; i++) {
      this.current[i]! += this.weights[i]!;
      if (this.current[i]! > this.current[best]!) best = i;
    }
    this.current[best]! -= this.total;
    return best;
  }
}

/** Requests in flight on a cluster, bounded. Survives config updates that keep the cluster. */
export class InFlightLimit {
  private active = 0;
  constructor(private cap: number) {}

  setCap(cap: number): void {
    this.cap = cap;
  }

  tryAcquire(): boolean {
    if (this.active >= this.cap) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }

  get inFlight(): number {
    return this.active;
  }
}

/**
 * Requests that may run at once: max_requests, and over HTTP/1 (a request per connection) no more
 * than max_connections. https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking
 */
function activeCap(c: ClusterSpec): number {
  return c.http2 ? c.limits.maxRequests : Math.min(c.limits.maxConnections, c.limits.maxRequests);
}

/** Running requests plus those waiting for a connection (max_pending_requests). */
function inFlightCap(c: ClusterSpec): number {
  return activeCap(c) + c.limits.maxPendingRequests;
}

/** Connections per endpoint: the cluster's cap, spread evenly by round robin. */
function connectionsPerEndpoint(c: ClusterSpec): number {
  return Math.max(1, Math.ceil((c.http2 ? c.limits.maxConnections : activeCap(c)) / c.endpoints.length));
}

function poolKey(c: ClusterSpec, e: SocketEndpointSpec): string {
  const perEndpoint = connectionsPerEndpoint(c);
  const tls = c.tls ? `tls:${c.tls.sni ?? ''}` : 'plain';
  return [e.host, e.port, tls, c.http2 ? 'h2' : 'h1', c.connectTimeoutMs, perEndpoint, c.dnsFamily ?? 'any'].join('|');
}

/**
 * How a pool connects: TLS with the cluster's SNI and no certificate check (Envoy verifies an upstream
 * certificate only when the TlsContext has a validation context, which shadowplane's clusters do not:
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/common.proto#extensions-transport-sockets-tls-v3-certificatevalidationcontext),
 * and HTTP/2 without TLS by prior knowledge (h2c), which undici's Pool does not pass to its connector.
 */
function connector(c: ClusterSpec, resetAborted: boolean): buildConnector.connector {
  const base = buildConnector({
    timeout: c.connectTimeoutMs,
    allowH2: c.http2,
    ...(c.tls ? { rejectUnauthorized: false } : {}),
    // net.connect's `family`: a DNS cluster pinned to IPv4 or IPv6 (Envoy's V4_ONLY / V6_ONLY).
    ...(c.dnsFamily !== undefined ? { family: c.dnsFamily } : {}),
  });
  return (options, callback) => {
    // SNI is the cluster's, or none, whatever the request's Host (undici would derive it from Host).
    const { servername: _fromRequest, ...rest } = options;
    base(c.tls?.sni ? { ...rest, servername: c.tls.sni } : rest, (err, socket) => {
      if (socket && c.http2 && !c.tls) (socket as Socket & { alpnProtocol?: string }).alpnProtocol = 'h2';
      // Over TLS or HTTP/2 an abort does not reset TCP (TLS has no reset; h2 resets the stream only).
      if (socket && resetAborted && !c.tls && !c.http2) resetWhenAborted(socket as Socket);
      if (err) callback(err, null);
      else callback(null, socket!);
    });
  };
}

function createPool(c: ClusterSpec, e: SocketEndpointSpec, resetAborted: boolean): Pool {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return new Pool(`${c.tls ? 'https' : 'http'}://${host}:${e.port}`, {
    connections: connectionsPerEndpoint(c),
    pipelining: 1,
    connect: connector(c, resetAborted),
    // The route timeout and max_stream_duration bound an exchange; undici's own timers stay off.
    headersTimeout: 0,
    bodyTimeout: 0,
    allowH2: c.http2,
  });
}

/**
 * undici keys a TLS connection by the request's `servername` (derived from Host unless given) and
 * reconnects when it changes; the connector above decides the real SNI, so every request of a
 * cluster names the same one. undici accepts the option but does not declare it.
 */
export type UpstreamRequestOptions = Dispatcher.RequestOptions & { readonly servername?: string };

export function upstreamRequestOptions(c: ClusterSpec, o: Dispatcher.RequestOptions): UpstreamRequestOptions {
  return c.tls ? { ...o, servername: c.tls.sni ?? c.name } : o;
}

/** Where an endpoint's requests go: an undici Pool, or an internal listener (internal-listener.ts). */
export type Upstream = Pick<Dispatcher, 'dispatch'>;

export interface PickedEndpoint {
  readonly pool: Upstream;
}

export class UpstreamCluster {
  private readonly rr: WeightedRoundRobin;

  constructor(
    readonly spec: ClusterSpec,
    readonly limit: InFlightLimit,
    private readonly pools: readonly Upstream[],
  ) {
    this.rr = new WeightedRoundRobin(spec.endpoints.map((e) => e.weight));
  }

  /** The next endpoint, or undefined when the cluster has none. */
  pick(): PickedEndpoint | undefined {
    if (this.spec.endpoints.length === 0) return undefined;
    return { pool: this.pools[this.rr.next()]! };
  }
}

/** What an endpoint naming an internal listener sends through; made per update, as it holds no connection. */
export type InternalUpstreams = (listener: string) => Upstream;

export class ClusterManager {
  /** `resetAborted`: connections destroyed by an abortResetting() abort are reset (the mirrors' pools; see connection-reset.ts). */
  constructor(private readonly resetAborted = false) {}

  private clusters = new Map<string, UpstreamCluster>();
  private pools = new Map<string, Pool>();
  private readonly limits = new Map<string, InFlightLimit>();

  get(name: string): UpstreamCluster | undefined {
    return this.clusters.get(name);
  }

  /** Swaps in the new clusters, keeping pools whose endpoint and options are unchanged. */
  update(specs: ReadonlyMap<string, ClusterSpec>, internal: InternalUpstreams): void {
    const pools = new Map<string, Pool>();
    const clusters = new Map<string, UpstreamCluster>();
    for (const [name, spec] of specs) {
      const list = spec.endpoints.map((e): Upstream => {
        if ('internalListener' in e) return internal(e.internalListener);
        const key = poolKey(spec, e);
        const pool = pools.get(key) ?? this.pools.get(key) ?? createPool(spec, e, this.resetAborted);
        pools.set(key, pool);
        return pool;
      });
      let limit = this.limits.get(name);
      if (limit) limit.setCap(inFlightCap(spec));
      else this.limits.set(name, (limit = new InFlightLimit(inFlightCap(spec))));
      clusters.set(name, new UpstreamCluster(spec, limit, list));
    }
    for (const name of this.limits.keys()) if (!specs.has(name)) this.limits.delete(name);
    // Requests already running on a dropped pool finish first: close() waits for them.
    for (const [key, pool] of this.pools) if (!pools.has(key)) void pool.close().catch(() => undefined);
    this.pools = pools;
    this.clusters = clusters;
  }

  /** Closes every pool: gracefully, or at once (in-flight requests fail) when `abort` is set. */
  async close(abort: boolean): Promise<void> {
    const all = [...this.pools.values()];
    this.pools = new Map();
    this.clusters = new Map();
    await Promise.all(all.map((p) => (abort ? p.destroy() : p.close()).catch(() => undefined)));
  }
}
