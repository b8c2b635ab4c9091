// Incremental (delta) ADS on one stream: only added, changed and removed resources are sent, each
// with its content hash as version; `initial_resource_versions` lets a reconnecting proxy skip what it
// already has. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
import type { DeltaDiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDeltaDiscoveryResponseBody } from '../envoy-api/discovery-codec.js';
import type { Gate } from './make-before-break.js';
import { selectionDiff, sharedBy } from './selection-diff.js';
import type { ServedTypeUrl, Snapshot } from './snapshot.js';
import type { EncodedResource } from './encoded-resource.js';
import type { TypeState } from './type-state.js';
import { XdsStream, type ResponseContent } from './xds-stream.js';

function contentKey(changed: readonly EncodedResource[], removed: readonly string[]): string {
  return `${changed.map((r) => `${r.name}@${r.version}`).join(',')}|-${removed.join(',')}`;
}

export class DeltaStream extends XdsStream<DeltaDiscoveryRequest> {
  protected handle(req: DeltaDiscoveryRequest, typeUrl: ServedTypeUrl, st: TypeState, first: boolean): boolean {
    if (first) for (const [name, version] of req.initialResourceVersions) st.held.set(name, { version, resource: undefined });
    const acked = req.responseNonce !== '' && this.answer(typeUrl, st, req.responseNonce, req.errorDetail?.message);
    // What the proxy unsubscribes it forgets.
    for (const name of st.subscription.updateDelta(req.subscribe, req.unsubscribe, first)) st.held.delete(name);
    return acked;
  }

  protected content(typeUrl: ServedTypeUrl, st: TypeState, snapshot: Snapshot, g: Gate): ResponseContent | undefined {
    const want = st.wanted(snapshot);
    const version = snapshot.types.get(typeUrl)!.version;
    const from = st.held.exactly;
    if (from && !st.rejected) {
      if (from === want) return undefined;
      const d = selectionDiff(from, want);
      if (!g.keep || !d.removed.some((n) => g.keep!.names.has(n))) {
        if (d.changed.length === 0 && d.removed.length === 0) {
          st.held.replace(want);
          return undefined;
        }
        // The body carries the config revision: one content per diff and revision.
        return sharedBy(d, snapshot.configRevision, () => ({ version, resources: new Map(d.changed.map((r) => [r.name, r])), removed: d.removed, key: contentKey(d.changed, d.removed), after: want }));
      }
    }
    const behind = [...want.values()].filter((r) => st.held.get(r.name)?.version !== r.version);
    const changed = behind.filter((r) => !st.refused(r.name, r.version));
    const extras = st.extras(want);
    const removed = extras.filter((n) => !g.keep?.names.has(n));
    if (changed.length === 0 && removed.length === 0) return undefined;
    const exact = changed.length === behind.length && removed.length === extras.length;
    return { version, resources: new Map(changed.map((r) => [r.name, r])), removed, key: contentKey(changed, removed), after: exact ? want : undefined };
  }

  protected encodeBody(typeUrl: ServedTypeUrl, c: ResponseContent, snapshot: Snapshot): Buffer {
    return encodeDeltaDiscoveryResponseBody(snapshot.configRevision, typeUrl, c.resources.values(), c.removed);
  }
}
