// State-of-the-world ADS on one stream: every request names the whole subscription; a response
// carries every resource of it, versioned by the type's content hash.
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-nack-and-resource-type-instance-version
// A NACKed response is not sent again to that proxy until the resources change again (go-control-plane
// re-sends it in a loop: its issues #46 and #962); Envoy keeps serving what it last accepted.
// Clusters make-before-break keeps beyond the current version ride along in CDS responses (and make a
// response of their own, version `hash+N`) until the proxy holds the routes that no longer use them.
import type { DiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDiscoveryResponse } from '../envoy-api/discovery-codec.js';
import type { EncodedResource } from './encoded-resource.js';
import type { Gate } from './make-before-break.js';
import type { ServedTypeUrl, Snapshot } from './snapshot.js';
import type { TypeState } from './type-state.js';
import { XdsStream, type ResponseContent } from './xds-stream.js';

function responseKey(typeVersion: string, st: TypeState, retained: readonly string[]): string {
  return `${typeVersion}|${st.subscription.key}|${[...retained].sort().join(',')}`;
}

export class SotwStream extends XdsStream<DiscoveryRequest> {
  protected handle(req: DiscoveryRequest, typeUrl: ServedTypeUrl, st: TypeState, first: boolean): boolean {
    // A request quoting an older response is stale: the proxy has not seen our latest yet, and will
    // answer it (with its subscription) once it has. It is ignored whole.
    if (req.responseNonce !== '' && req.responseNonce !== st.lastNonce) return false;
    const acked = req.responseNonce !== '' && this.answer(typeUrl, st, req.responseNonce, req.errorDetail?.message);
    st.subscription.setSotw(req.resourceNames);
    if (first && req.versionInfo !== '') this.resumeFrom(typeUrl, st, req.versionInfo);
    return acked;
  }

  /** A reconnecting proxy that already holds the current version is recorded as such, not re-sent it. */
  private resumeFrom(typeUrl: ServedTypeUrl, st: TypeState, versionInfo: string): void {
    const snapshot = this.snapshot();
    const ts = snapshot?.types.get(typeUrl);
    if (!snapshot || !ts || ts.version !== versionInfo) return;
    this.resume(typeUrl, st, st.wanted(snapshot), ts.version, responseKey(ts.version, st, []), snapshot);
  }

  protected content(typeUrl: ServedTypeUrl, st: TypeState, snapshot: Snapshot, g: Gate): ResponseContent | undefined {
    const ts = snapshot.types.get(typeUrl)!;
    const resources: Map<string, EncodedResource> = st.wanted(snapshot);
    const retained: string[] = [];
    for (const name of g.keep?.names ?? []) {
      const held = st.held.get(name)?.resource;
      if (held && !resources.has(name) && st.subscription.wants(name)) {
        resources.set(name, held);
        retained.push(name);
      }
    }
    const key = responseKey(ts.version, st, retained);
    if (key === st.sentKey || key === st.rejected?.key) return undefined;
    return {
      // Retained resources make a distinct response (and version) until they are dropped.
      version: retained.length > 0 ? `${ts.version}+${retained.length}` : ts.version,
      resources,
      // A response is the whole subscription: what it leaves out, the proxy no longer holds.
      removed: [...st.held.keys()].filter((n) => !resources.has(n)),
      key,
    };
  }

  protected encode(typeUrl: ServedTypeUrl, c: ResponseContent, _snapshot: Snapshot, nonce: string): Buffer {
    return encodeDiscoveryResponse(c.version, typeUrl, nonce, [...c.resources.values()]);
  }
}
