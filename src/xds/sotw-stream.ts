// State-of-the-world ADS on one stream: per-type subscriptions, versions and nonces, ACK/NACK.
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-nack-and-resource-type-instance-version
// A NACKed version is not sent again to that proxy until the resources change again (go-control-plane
// re-sends it in a loop: its issues #46 and #962); Envoy keeps serving what it last accepted.
// Updates are make-before-break, so no request meets a missing or still-warming cluster: listeners
// and routes wait until the proxy has acknowledged the clusters and endpoints they use, and a cluster
// the new version drops stays in CDS until the proxy has acknowledged the routes that stopped using it.
import type { DiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDiscoveryResponse } from '../envoy-api/discovery-codec.js';
import type { EncodedResource } from './encoded-resource.js';
import { resourceReferences } from '../envoy-api/resource-references.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { NAMED_TYPES, PUSH_ORDER, type ServedTypeUrl } from './snapshot.js';
import { isRoutingType, isServedType, recordAck, recordNack, recordSend, unblockedBy, type StreamContext } from './stream-context.js';

interface TypeState {
  wildcard: boolean;
  names: ReadonlySet<string>;
  /** The subscription as a string, computed when it changes (it is part of every response key). */
  namesKey: string;
  /** version + subscribed names of the last response, and its nonce. */
  sentKey: string | undefined;
  sentVersion: string | undefined;
  sentConfigVersion: number | undefined;
  sentNonce: string | undefined;
  /** The response key a proxy rejected; not sent again. */
  rejectedKey: string | undefined;
  /** The response key the proxy acknowledged last. */
  ackedKey: string | undefined;
  /** What the last response carried, by name. */
  lastSent: ReadonlyMap<string, EncodedResource>;
}

function subscriptionKey(wildcard: boolean, names: readonly string[]): string {
  return wildcard ? '*' : [...new Set(names)].sort().join(',');
}

export class SotwStream {
  private readonly types = new Map<ServedTypeUrl, TypeState>();
  private nonce = 0;

  constructor(private readonly ctx: StreamContext) {}

  onRequest(req: DiscoveryRequest): void {
    if (req.node && !this.ctx.record.node) this.ctx.record.node = req.node;
    if (!isServedType(req.typeUrl)) {
      this.ctx.logger.debug({ type: req.typeUrl }, 'request for a type this server does not serve');
      return;
    }
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    if (req.responseNonce !== '') {
      // Only the reply to our latest response counts; an older nonce is stale and ignored.
      if (!st || req.responseNonce !== st.sentNonce) return;
      if (req.errorDetail) {
        st.rejectedKey = st.sentKey;
        recordNack(this.ctx, typeUrl, st.sentVersion ?? '', req.errorDetail.message);
      } else {
        st.ackedKey = st.sentKey;
        recordAck(this.ctx, typeUrl, req.versionInfo, st.sentConfigVersion);
        for (const t of unblockedBy(typeUrl)) this.push(t);
      }
    }
    const names = req.resourceNames.filter((n) => n !== '*');
    const wildcard = !NAMED_TYPES.has(typeUrl) && (req.resourceNames.includes('*') || (names.length === 0 && (st?.wildcard ?? true)));
    if (!st) {
      st = {
        wildcard,
        names: new Set(names),
        namesKey: subscriptionKey(wildcard, names),
        sentKey: undefined,
        sentVersion: undefined,
        sentConfigVersion: undefined,
        sentNonce: undefined,
        rejectedKey: undefined,
        ackedKey: undefined,
        lastSent: new Map(),
      };
      this.types.set(typeUrl, st);
      if (req.versionInfo !== '') this.resumeFrom(typeUrl, st, req.versionInfo);
    } else {
      st.wildcard = wildcard;
      st.names = new Set(names);
      st.namesKey = subscriptionKey(wildcard, names);
    }
    this.push(typeUrl);
  }

  /** A reconnecting proxy that already holds the current version is recorded as such, not re-sent it. */
  private resumeFrom(typeUrl: ServedTypeUrl, st: TypeState, versionInfo: string): void {
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const ts = snapshot?.types.get(typeUrl);
    if (!snapshot || !ts || ts.version !== versionInfo) return;
    st.sentKey = this.keyOf(ts.version, st);
    st.ackedKey = st.sentKey;
    st.lastSent = ts.resources;
    st.sentVersion = ts.version;
    st.sentConfigVersion = snapshot.configVersion;
    recordSend(this.ctx, typeUrl, ts.version, snapshot.configVersion, 0);
    recordAck(this.ctx, typeUrl, ts.version, snapshot.configVersion);
  }

  /** A new config version: every subscribed type, in the order Envoy needs. */
  onSnapshot(): void {
    for (const typeUrl of PUSH_ORDER) if (this.types.has(typeUrl)) this.push(typeUrl);
  }

  /** Identifies a response: type version, what was subscribed, and any clusters retained beyond the version. */
  private keyOf(version: string, st: TypeState, retained: readonly string[] = []): string {
    return `${version}|${st.namesKey}|${retained.length === 0 ? '' : [...retained].sort().join(',')}`;
  }

  /** True once the proxy has acknowledged the current listeners and routes (or never asked for them). */
  private routesCaughtUp(): boolean {
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    return [TypeUrl.Listener, TypeUrl.RouteConfiguration].every((t) => {
      const st = this.types.get(t);
      const ts = snapshot?.types.get(t);
      return !st || !ts || st.ackedKey === this.keyOf(ts.version, st);
    });
  }

  /**
   * True once the proxy has acknowledged the current clusters, and endpoints for each EDS cluster
   * among them (or never asked for them).
   */
  private clustersCaughtUp(): boolean {
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const cds = this.types.get(TypeUrl.Cluster);
    const clusters = snapshot?.types.get(TypeUrl.Cluster);
    if (!cds || !clusters) return true;
    if (cds.ackedKey === undefined || cds.ackedKey !== cds.sentKey || !cds.ackedKey.startsWith(`${clusters.version}|`)) return false;
    const eds = this.types.get(TypeUrl.ClusterLoadAssignment);
    const endpoints = snapshot!.types.get(TypeUrl.ClusterLoadAssignment)!;
    const needed = resourceReferences({ clusters: [...clusters.resources.values()].map((c) => c.json) }).endpoints;
    if (needed.length === 0) return true;
    if (!eds) return false;
    return needed.every((n) => eds.names.has(n)) && eds.ackedKey === eds.sentKey && eds.ackedKey === this.keyOf(endpoints.version, eds);
  }

  /** The resources to send: what was asked for, plus clusters still in use until the routes catch up. */
  private resourcesFor(typeUrl: ServedTypeUrl, st: TypeState, current: ReadonlyMap<string, EncodedResource>): Map<string, EncodedResource> {
    const out = new Map<string, EncodedResource>();
    if (st.wildcard) for (const [n, r] of current) out.set(n, r);
    else
      for (const n of st.names) {
        const r = current.get(n);
        if (r) out.set(n, r);
      }
    if (typeUrl === TypeUrl.Cluster && !this.routesCaughtUp()) {
      for (const [n, r] of st.lastSent) if (!out.has(n)) out.set(n, r);
    }
    return out;
  }

  private push(typeUrl: ServedTypeUrl): void {
    const st = this.types.get(typeUrl);
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const ts = snapshot?.types.get(typeUrl);
    if (!st || !snapshot || !ts) return;
    if (isRoutingType(typeUrl) && !this.clustersCaughtUp()) return;
    const resources = this.resourcesFor(typeUrl, st, ts.resources);
    const retained = [...resources.keys()].filter((n) => !ts.resources.has(n));
    // Retained clusters make a distinct response (and version) until they are dropped.
    const version = retained.length > 0 ? `${ts.version}+${retained.length}` : ts.version;
    const key = this.keyOf(ts.version, st, retained);
    if (key === st.sentKey || key === st.rejectedKey) return;
    const nonce = String(++this.nonce);
    const bytes = encodeDiscoveryResponse(version, typeUrl, nonce, [...resources.values()]);
    st.sentKey = key;
    st.sentVersion = version;
    st.sentConfigVersion = snapshot.configVersion;
    st.sentNonce = nonce;
    st.lastSent = resources;
    this.ctx.record.warnings = snapshot.warnings;
    recordSend(this.ctx, typeUrl, version, snapshot.configVersion, bytes.length);
    this.ctx.send(bytes);
  }
}
