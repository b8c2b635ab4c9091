// What state-of-the-world and delta ADS streams share, written once: node capture and the type check,
// one response per type on the wire (the ACK brings the next, as go-control-plane answers requests),
// pushing every type on a new snapshot in the order Envoy needs, make-before-break
// (make-before-break.ts), ACK/NACK bookkeeping, and the sync state each type is in. Each protocol
// supplies how a request updates the subscription and how a response is assembled.
import { withNonce, type NodeInfo } from '../envoy-api/discovery-codec.js';
import { resourceReferences } from '../envoy-api/resource-references.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { gate, type Gate } from './make-before-break.js';
import type { EncodedResource } from './encoded-resource.js';
import type { ResourceReport, SyncView, TypeSync } from './proxy-status.js';
import { PUSH_ORDER, type ServedTypeUrl, type Snapshot } from './snapshot.js';
import { isServedType, recordAck, recordNack, recordSend, shortType, type StreamContext } from './stream-context.js';
import { TypeState, type InFlight } from './type-state.js';

/** What an acknowledgement of a type may let go out: routing after clusters, cluster and endpoint removals after routing. */
const DEPENDENTS: Readonly<Record<ServedTypeUrl, readonly ServedTypeUrl[]>> = {
  [TypeUrl.Runtime]: [],
  [TypeUrl.Cluster]: [TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration],
  [TypeUrl.ClusterLoadAssignment]: [TypeUrl.Listener, TypeUrl.RouteConfiguration],
  [TypeUrl.Listener]: [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment],
  [TypeUrl.RouteConfiguration]: [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment],
};

/** What names the proxy must still ask for: EDS for its clusters, RDS for its listeners. */
const REFERENCED_BY: Partial<Record<ServedTypeUrl, { readonly from: ServedTypeUrl; readonly key: 'endpoints' | 'routes' }>> = {
  [TypeUrl.ClusterLoadAssignment]: { from: TypeUrl.Cluster, key: 'endpoints' },
  [TypeUrl.RouteConfiguration]: { from: TypeUrl.Listener, key: 'routes' },
};

export interface ResponseContent {
  readonly version: string;
  readonly resources: ReadonlyMap<string, EncodedResource>;
  readonly removed: readonly string[];
  readonly key: string;
  /** What the proxy holds once it acknowledges, when that is exactly one selection (see InFlight.after). */
  readonly after: ReadonlyMap<string, EncodedResource> | undefined;
}

/**
 * A response's bytes but its nonce, per content: streams in the same place get the same content
 * object (sotw-stream.ts, delta-stream.ts share them), so a push to a thousand of them encodes once.
 */
const bodies = new WeakMap<ResponseContent, Buffer>();

export abstract class XdsStream<Req extends { readonly node?: NodeInfo; readonly typeUrl: string }> implements SyncView {
  protected readonly types = new Map<ServedTypeUrl, TypeState>();
  private nonce = 0;

  constructor(protected readonly ctx: StreamContext) {
    ctx.record.view = this;
  }

  onRequest(req: Req): void {
    if (!isServedType(req.typeUrl)) {
      this.ctx.logger.debug({ type: req.typeUrl }, 'request for a type this server does not serve');
      return;
    }
    let st = this.types.get(req.typeUrl);
    const first = st === undefined;
    if (!st) {
      st = new TypeState(req.typeUrl);
      this.types.set(req.typeUrl, st);
    }
    const acked = this.handle(req, req.typeUrl, st, first);
    this.push(req.typeUrl);
    if (acked) for (const t of DEPENDENTS[req.typeUrl]) this.push(t);
  }

  /** Applies the request to the type's state; true when it acknowledged the response in flight. */
  protected abstract handle(req: Req, typeUrl: ServedTypeUrl, st: TypeState, first: boolean): boolean;

  /** The response for `typeUrl` now, or undefined when the proxy needs none (it holds it, or rejected it). */
  protected abstract content(typeUrl: ServedTypeUrl, st: TypeState, snapshot: Snapshot, g: Gate): ResponseContent | undefined;

  /** The response without its nonce (withNonce adds it). */
  protected abstract encodeBody(typeUrl: ServedTypeUrl, c: ResponseContent, snapshot: Snapshot): Buffer;

  /** A new config version: every subscribed type, in the order Envoy needs. */
  onSnapshot(): void {
    for (const typeUrl of PUSH_ORDER) if (this.types.has(typeUrl)) this.push(typeUrl);
  }

  private current: { readonly configVersion: number; readonly snapshot: Snapshot | undefined } | undefined;

  /** This node's snapshot of the current config version (looked up once per version). */
  protected snapshot(): Snapshot | undefined {
    const configVersion = this.ctx.cache.configVersion;
    if (this.current?.configVersion !== configVersion) this.current = { configVersion, snapshot: this.ctx.cache.snapshotFor(this.ctx.record.node) };
    return this.current.snapshot;
  }

  private push(typeUrl: ServedTypeUrl): void {
    const st = this.types.get(typeUrl);
    const snapshot = this.snapshot();
    if (!st || !snapshot || st.inFlight) return;
    // The proxy holds exactly what it should: nothing to send, nothing to work out.
    if (st.held.exactly === st.wanted(snapshot)) return;
    const g = gate(typeUrl, snapshot, this.types);
    if (g.blocked) return;
    const c = this.content(typeUrl, st, snapshot, g);
    if (!c) return;
    const nonce = String(++this.nonce);
    let body = bodies.get(c);
    if (!body) bodies.set(c, (body = this.encodeBody(typeUrl, c, snapshot)));
    const bytes = withNonce(body, nonce);
    const inFlight: InFlight = { nonce, version: c.version, configVersion: snapshot.configVersion, resources: c.resources, removed: c.removed, key: c.key, after: c.after };
    st.inFlight = inFlight;
    st.sentKey = c.key;
    st.lastNonce = nonce;
    this.ctx.record.warnings = snapshot.warnings;
    recordSend(this.ctx, typeUrl, c.version, snapshot.configVersion, bytes.length);
    this.ctx.send(bytes);
  }

  /** The proxy's answer to the response in flight: an ACK, or a NACK with its message. False for any other nonce (stale). */
  protected answer(typeUrl: ServedTypeUrl, st: TypeState, nonce: string, error: string | undefined): boolean {
    if (!st.inFlight || nonce !== st.inFlight.nonce) return false;
    if (error !== undefined) {
      const f = st.reject(error)!;
      recordNack(this.ctx, typeUrl, f.version, error);
      return false;
    }
    const f = st.acknowledge()!;
    recordAck(this.ctx, typeUrl, f.version, f.configVersion);
    return true;
  }

  /** Records, for a reconnecting proxy, that it already holds `want` (it said so); nothing is sent for it. */
  protected resume(typeUrl: ServedTypeUrl, st: TypeState, want: ReadonlyMap<string, EncodedResource>, version: string, key: string, snapshot: Snapshot): void {
    st.held.replace(want);
    st.sentKey = key;
    recordSend(this.ctx, typeUrl, version, snapshot.configVersion, 0);
    recordAck(this.ctx, typeUrl, version, snapshot.configVersion);
  }

  requestedTypes(): ServedTypeUrl[] {
    return PUSH_ORDER.filter((t) => this.types.has(t));
  }

  /** SYNCED only when the proxy holds exactly the current content of the type; otherwise why not. */
  sync(typeUrl: ServedTypeUrl): TypeSync {
    const st = this.types.get(typeUrl);
    const snapshot = this.snapshot();
    if (!st) return { state: 'STALE', reason: `the proxy has not asked for ${shortType(typeUrl)}` };
    if (!snapshot) return { state: 'STALE', reason: 'no config is served yet' };
    if (st.inFlight) return { state: 'PENDING', reason: `version ${st.inFlight.version} sent; waiting for the proxy's ACK` };
    const want = st.wanted(snapshot);
    const behind = [...want.values()].filter((r) => st.held.get(r.name)?.version !== r.version);
    if (st.rejected && behind.length > 0 && behind.every((r) => st.refused(r.name, r.version))) {
      return { state: 'NACKED', reason: st.rejected.message };
    }
    const extras = st.extras(want);
    const unasked = this.unasked(typeUrl, snapshot);
    if (behind.length === 0 && extras.length === 0 && unasked.length === 0) return { state: 'SYNCED' };
    const g = gate(typeUrl, snapshot, this.types);
    if (g.blocked) return { state: 'STALE', reason: g.blocked };
    if (behind.length === 0 && extras.length > 0 && g.keep) return { state: 'STALE', reason: g.keep.reason };
    if (unasked.length > 0) return { state: 'STALE', reason: `waiting for the proxy to ask for ${unasked.slice(0, 3).join(', ')}${unasked.length > 3 ? '…' : ''}` };
    return { state: 'STALE', reason: 'not sent yet' };
  }

  /** Every resource of the type the proxy asked for, holds, or should hold, and where it stands. */
  resources(typeUrl: ServedTypeUrl): ResourceReport[] {
    const st = this.types.get(typeUrl);
    const snapshot = this.snapshot();
    if (!st || !snapshot) return [];
    const want = st.wanted(snapshot);
    const names = new Set([...want.keys(), ...st.held.names(), ...st.subscription.names]);
    return [...names].sort().map((name): ResourceReport => {
      const current = want.get(name);
      const held = st.held.get(name);
      // A state-of-the-world NACK refuses the whole response: a resource the proxy already holds at the current version stays ACKED.
      if (current && st.refused(name, current.version) && held?.version !== current.version) {
        const r = st.rejected!;
        return { name, version: held?.version ?? current.version, resource: held?.resource, status: 'ERROR', client: 'NACKED', error: { message: r.message, at: r.at, version: current.version, resource: current } };
      }
      if (held) return { name, version: held.version, resource: held.resource ?? current, status: held.version === current?.version ? 'SYNCED' : 'STALE', client: 'ACKED' };
      if (current) return { name, version: current.version, resource: current, status: 'NOT_SENT', client: 'REQUESTED' };
      return { name, version: '', resource: undefined, status: 'NOT_SENT', client: 'DOES_NOT_EXIST' };
    });
  }

  /** Names the current listeners or clusters the proxy is served reference, that it has not asked for yet. */
  private unasked(typeUrl: ServedTypeUrl, snapshot: Snapshot): string[] {
    const ref = REFERENCED_BY[typeUrl];
    const parent = ref && this.types.get(ref.from);
    const st = this.types.get(typeUrl);
    if (!ref || !parent || !st) return [];
    const parents = [...parent.wanted(snapshot).values()].map((r) => r.json);
    const names = resourceReferences(ref.key === 'endpoints' ? { clusters: parents } : { listeners: parents })[ref.key];
    const present = snapshot.types.get(typeUrl)!.resources;
    return names.filter((n) => present.has(n) && !st.subscription.wants(n));
  }
}
