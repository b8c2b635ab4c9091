// Incremental (delta) ADS on one stream: only added, changed and removed resources are sent, each
// with its content hash as version; `initial_resource_versions` lets a reconnecting proxy skip what it
// already has. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
// Make-before-break as in the state-of-the-world stream: listeners and routes wait for their clusters
// and endpoints to be acknowledged, and cluster removals wait for the routes that stopped using them.
import type { DeltaDiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDeltaDiscoveryResponse } from '../envoy-api/discovery-codec.js';
import type { EncodedResource } from './encoded-resource.js';
import { resourceReferences } from '../envoy-api/resource-references.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { NAMED_TYPES, PUSH_ORDER, type ServedTypeUrl } from './snapshot.js';
import { isRoutingType, isServedType, recordAck, recordNack, recordSend, unblockedBy, type StreamContext } from './stream-context.js';

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** name → version the proxy holds (as far as we know). */
  known: Map<string, string>;
  /** name → version the proxy rejected: not sent again. */
  rejected: Map<string, string>;
  sentNonce: string | undefined;
  sentTypeVersion: string | undefined;
  ackedTypeVersion: string | undefined;
  sentConfigVersion: number | undefined;
  inFlight: Map<string, string> | undefined;
}

export class DeltaStream {
  private readonly types = new Map<ServedTypeUrl, TypeState>();
  private nonce = 0;

  constructor(private readonly ctx: StreamContext) {}

  onRequest(req: DeltaDiscoveryRequest): void {
    if (req.node && !this.ctx.record.node) this.ctx.record.node = req.node;
    if (!isServedType(req.typeUrl)) return;
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    if (!st) {
      const wildcard = !NAMED_TYPES.has(typeUrl) && (req.subscribe.length === 0 || req.subscribe.includes('*'));
      st = {
        wildcard,
        names: new Set(),
        known: new Map(req.initialResourceVersions),
        rejected: new Map(),
        sentNonce: undefined,
        sentTypeVersion: undefined,
        ackedTypeVersion: undefined,
        sentConfigVersion: undefined,
        inFlight: undefined,
      };
      this.types.set(typeUrl, st);
    }
    if (req.responseNonce !== '' && req.responseNonce === st.sentNonce) {
      if (req.errorDetail) {
        for (const [name, version] of st.inFlight ?? []) st.rejected.set(name, version);
        recordNack(this.ctx, typeUrl, st.sentTypeVersion ?? '', req.errorDetail.message);
      } else {
        st.ackedTypeVersion = st.sentTypeVersion;
        recordAck(this.ctx, typeUrl, st.sentTypeVersion ?? '', st.sentConfigVersion);
      }
      st.inFlight = undefined;
      if (!req.errorDetail) for (const t of unblockedBy(typeUrl)) this.push(t);
    }
    for (const n of req.subscribe) {
      if (n === '*') st.wildcard = true;
      else st.names.add(n);
    }
    for (const n of req.unsubscribe) {
      if (n === '*') st.wildcard = false;
      st.names.delete(n);
      st.known.delete(n);
    }
    this.push(typeUrl);
  }

  /** The proxy has acknowledged this type at its current version (or never asked for it). */
  private caughtUp(typeUrl: ServedTypeUrl): boolean {
    const st = this.types.get(typeUrl);
    const ts = this.ctx.cache.snapshotFor(this.ctx.record.node)?.types.get(typeUrl);
    return !st || !ts || (st.inFlight === undefined && st.ackedTypeVersion === ts.version);
  }

  private clustersCaughtUp(): boolean {
    if (!this.caughtUp(TypeUrl.Cluster)) return false;
    const clusters = this.ctx.cache.snapshotFor(this.ctx.record.node)?.types.get(TypeUrl.Cluster);
    const eds = this.types.get(TypeUrl.ClusterLoadAssignment);
    const needed = resourceReferences({ clusters: [...(clusters?.resources.values() ?? [])].map((c) => c.json) }).endpoints;
    if (needed.length === 0 || (!eds && !this.types.has(TypeUrl.Cluster))) return true;
    return !!eds && eds.inFlight === undefined && needed.every((n) => eds.wildcard || eds.names.has(n)) && needed.every((n) => eds.known.has(n));
  }

  onSnapshot(): void {
    for (const typeUrl of PUSH_ORDER) if (this.types.has(typeUrl)) this.push(typeUrl);
  }

  private push(typeUrl: ServedTypeUrl): void {
    const st = this.types.get(typeUrl);
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const ts = snapshot?.types.get(typeUrl);
    if (!st || !snapshot || !ts) return;
    if (isRoutingType(typeUrl) && !this.clustersCaughtUp()) return;
    const wanted = (name: string): boolean => st.wildcard || st.names.has(name);
    const changed: EncodedResource[] = [];
    for (const r of ts.resources.values()) {
      if (!wanted(r.name) || st.known.get(r.name) === r.version || st.rejected.get(r.name) === r.version) continue;
      changed.push(r);
    }
    const holdRemovals = typeUrl === TypeUrl.Cluster && !(this.caughtUp(TypeUrl.Listener) && this.caughtUp(TypeUrl.RouteConfiguration));
    const removed = holdRemovals ? [] : [...st.known.keys()].filter((name) => !ts.resources.has(name) && (st.wildcard || st.names.has(name)));
    if (changed.length === 0 && removed.length === 0) {
      // Nothing to send, but the proxy holds this type's current version.
      if (st.sentTypeVersion !== ts.version && [...ts.resources.values()].every((r) => !wanted(r.name) || st.known.get(r.name) === r.version)) {
        st.sentTypeVersion = ts.version;
        st.sentConfigVersion = snapshot.configVersion;
        recordSend(this.ctx, typeUrl, ts.version, snapshot.configVersion, 0);
        recordAck(this.ctx, typeUrl, ts.version, snapshot.configVersion);
      }
      return;
    }
    const nonce = String(++this.nonce);
    const bytes = encodeDeltaDiscoveryResponse(String(snapshot.configVersion), typeUrl, nonce, changed, removed);
    st.inFlight = new Map(changed.map((r) => [r.name, r.version]));
    for (const r of changed) st.known.set(r.name, r.version);
    for (const name of removed) st.known.delete(name);
    st.sentNonce = nonce;
    st.sentTypeVersion = ts.version;
    st.sentConfigVersion = snapshot.configVersion;
    this.ctx.record.warnings = snapshot.warnings;
    recordSend(this.ctx, typeUrl, ts.version, snapshot.configVersion, bytes.length);
    this.ctx.send(bytes);
  }
}
