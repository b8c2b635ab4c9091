// State-of-the-world ADS on one stream: every request names the whole subscription; a response is
// versioned by the type's content hash.
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-nack-and-resource-type-instance-version
// Listener, Cluster (and the one Runtime layer) responses carry every resource of the subscription,
// as the protocol requires; ClusterLoadAssignment and RouteConfiguration responses carry only what
// the proxy does not hold at its current version, which the protocol allows for them ("Grouping
// Resources into Responses"): Envoy keeps a named resource a response leaves out.
// A NACKed response is not sent again to that proxy until the resources change again (go-control-plane
// re-sends it in a loop: its issues #46 and #962); Envoy keeps serving what it last accepted.
// Clusters make-before-break keeps beyond the current version ride along in CDS responses (and make a
// response of their own, version `hash+N`) until the proxy holds the routes that no longer use them.
import type { DiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDiscoveryResponseBody } from '../envoy-api/discovery-codec.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { EncodedResource } from './encoded-resource.js';
import type { Gate } from './make-before-break.js';
import { selectionDiff, sharedBy } from './selection-diff.js';
import type { ServedTypeUrl, Snapshot } from './snapshot.js';
import type { TypeState } from './type-state.js';
import { XdsStream, type ResponseContent } from './xds-stream.js';

/** Types whose responses may leave out what the proxy already holds. */
const PARTIAL: ReadonlySet<ServedTypeUrl> = new Set([TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration]);

function responseKey(typeVersion: string, st: TypeState, retained: readonly string[]): string {
  return `${typeVersion}|${st.subscription.key}|${[...retained].sort().join(',')}`;
}

export class SotwStream extends XdsStream<DiscoveryRequest> {
  protected handle(req: DiscoveryRequest, typeUrl: ServedTypeUrl, st: TypeState, first: boolean): boolean {
    // A request quoting an older response is stale: the proxy has not seen our latest yet, and will
    // answer it (with its subscription) once it has. It is ignored whole.
    if (req.responseNonce !== '' && req.responseNonce !== st.lastNonce) return false;
    const acked = req.responseNonce !== '' && this.answer(typeUrl, st, req.responseNonce, req.errorDetail?.message);
    // What the proxy no longer asks for it forgets.
    for (const name of st.subscription.setSotw(req)) st.held.delete(name);
    if (first && req.versionInfo !== '') this.resumeFrom(typeUrl, st, req.versionInfo);
    return acked;
  }

  /** A reconnecting proxy that already holds the current version is recorded as such, not re-sent it. */
  private resumeFrom(typeUrl: ServedTypeUrl, st: TypeState, versionInfo: string): void {
    const snapshot = this.snapshot();
    const ts = snapshot?.types.get(typeUrl);
    if (!snapshot || !ts || ts.version !== versionInfo) return;
    this.resume(typeUrl, st, st.wantedOf(ts), ts.version, responseKey(ts.version, st, []), snapshot);
  }

  protected content(typeUrl: ServedTypeUrl, st: TypeState, snapshot: Snapshot, g: Gate): ResponseContent | undefined {
    const ts = snapshot.types.get(typeUrl)!;
    const want = st.wantedOf(ts);
    return PARTIAL.has(typeUrl) ? this.changed(st, ts.version, want, g) : this.complete(st, ts.version, want, g);
  }

  /** Every resource of the subscription (and what make-before-break keeps). */
  private complete(st: TypeState, version: string, want: ReadonlyMap<string, EncodedResource>, g: Gate): ResponseContent | undefined {
    const retained: EncodedResource[] = [];
    for (const name of g.keep?.names ?? []) {
      const held = st.held.get(name)?.resource;
      if (held && !want.has(name) && st.subscription.wants(name)) retained.push(held);
    }
    const key = responseKey(version, st, retained.map((r) => r.name));
    if (key === st.sentKey || key === st.rejected?.key) return undefined;
    if (retained.length === 0) return sharedBy(want, key, () => ({ version, resources: want, removed: [], key, after: want }));
    const resources = new Map(want);
    for (const r of retained) resources.set(r.name, r);
    // Retained resources make a distinct response (and version) until they are dropped.
    return { version: `${version}+${retained.length}`, resources, removed: [...st.held.names()].filter((n) => !resources.has(n)), key, after: undefined };
  }

  /**
   * What the proxy does not hold at its current version; it keeps the rest. A response goes out
   * whenever the type's version moves, if only to carry the new version: a name the snapshot no
   * longer has cannot be taken away in state of the world (the proxy drops it when it stops asking
   * for it), so from then on it no longer counts as held, as a full response would have it.
   */
  private changed(st: TypeState, version: string, want: ReadonlyMap<string, EncodedResource>, g: Gate): ResponseContent | undefined {
    const key = responseKey(version, st, []);
    if (key === st.sentKey || key === st.rejected?.key) return undefined;
    const from = st.held.exactly;
    if (from === want) return undefined;
    if (from && !st.rejected) {
      const d = selectionDiff(from, want);
      if (d.changed.length === 0 && d.removed.length === 0) {
        st.held.replace(want);
        return undefined;
      }
      if (!g.keep || !d.removed.some((n) => g.keep!.names.has(n))) {
        return sharedBy(d, key, () => ({ version, resources: new Map(d.changed.map((r) => [r.name, r])), removed: d.removed, key, after: want }));
      }
    }
    const behind = [...want.values()].filter((r) => st.held.get(r.name)?.version !== r.version);
    const changed = behind.filter((r) => !st.refused(r.name, r.version));
    const extras = st.extras(want);
    if (behind.length === 0 && extras.length === 0) {
      st.held.replace(want);
      return undefined;
    }
    if (changed.length === 0 && behind.length > 0 && extras.length === 0) return undefined;
    // make-before-break: endpoints of a cluster the proxy still holds stay counted as held.
    const removed = extras.filter((n) => !g.keep?.names.has(n));
    const exact = changed.length === behind.length && removed.length === extras.length;
    return { version, resources: new Map(changed.map((r) => [r.name, r])), removed, key, after: exact ? want : undefined };
  }

  protected encodeBody(typeUrl: ServedTypeUrl, c: ResponseContent): Buffer {
    return encodeDiscoveryResponseBody(c.version, typeUrl, c.resources.values());
  }
}
