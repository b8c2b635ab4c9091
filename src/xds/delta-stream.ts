// Incremental (delta) ADS on one stream: only added, changed and removed resources are sent, each
// with its content hash as version; `initial_resource_versions` lets a reconnecting proxy skip what it
// already has. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
import type { DeltaDiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDeltaDiscoveryResponse } from '../envoy-api/discovery-codec.js';
import type { Gate } from './make-before-break.js';
import type { ServedTypeUrl, Snapshot } from './snapshot.js';
import type { TypeState } from './type-state.js';
import { XdsStream, type ResponseContent } from './xds-stream.js';

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
    const changed = [...want.values()].filter((r) => st.held.get(r.name)?.version !== r.version && !st.refused(r.name, r.version));
    const removed = st.extras(want).filter((n) => !g.keep?.names.has(n));
    if (changed.length === 0 && removed.length === 0) return undefined;
    return {
      version: snapshot.types.get(typeUrl)!.version,
      resources: new Map(changed.map((r) => [r.name, r])),
      removed,
      key: `${changed.map((r) => `${r.name}@${r.version}`).join(',')}|-${removed.join(',')}`,
    };
  }

  protected encode(typeUrl: ServedTypeUrl, c: ResponseContent, snapshot: Snapshot, nonce: string): Buffer {
    return encodeDeltaDiscoveryResponse(snapshot.configRevision, typeUrl, nonce, [...c.resources.values()], c.removed);
  }
}
