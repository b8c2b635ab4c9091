// State-of-the-world ADS on one stream: per-type subscriptions, versions and nonces, ACK/NACK.
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-nack-and-resource-type-instance-version
// A NACKed version is not sent again to that proxy until the resources change again (go-control-plane
// re-sends it in a loop: its issues #46 and #962); Envoy keeps serving what it last accepted.
import type { DiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { encodeDiscoveryResponse } from '../envoy-api/discovery-codec.js';
import type { EncodedResource } from './encoded-resource.js';
import { NAMED_TYPES, PUSH_ORDER, type ServedTypeUrl } from './snapshot.js';
import { isServedType, recordAck, recordNack, recordSend, type StreamContext } from './stream-context.js';

interface TypeState {
  wildcard: boolean;
  names: ReadonlySet<string>;
  /** version + subscribed names of the last response, and its nonce. */
  sentKey: string | undefined;
  sentVersion: string | undefined;
  sentConfigVersion: number | undefined;
  sentNonce: string | undefined;
  /** The response key a proxy rejected; not sent again. */
  rejectedKey: string | undefined;
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
        recordAck(this.ctx, typeUrl, req.versionInfo, st.sentConfigVersion);
      }
    }
    const names = req.resourceNames.filter((n) => n !== '*');
    const wildcard = !NAMED_TYPES.has(typeUrl) && (req.resourceNames.includes('*') || (names.length === 0 && (st?.wildcard ?? true)));
    if (!st) {
      st = { wildcard, names: new Set(names), sentKey: undefined, sentVersion: undefined, sentConfigVersion: undefined, sentNonce: undefined, rejectedKey: undefined };
      this.types.set(typeUrl, st);
      if (req.versionInfo !== '') this.resumeFrom(typeUrl, st, req.versionInfo);
    } else {
      st.wildcard = wildcard;
      st.names = new Set(names);
    }
    this.push(typeUrl);
  }

  /** A reconnecting proxy that already holds the current version is recorded as such, not re-sent it. */
  private resumeFrom(typeUrl: ServedTypeUrl, st: TypeState, versionInfo: string): void {
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const ts = snapshot?.types.get(typeUrl);
    if (!snapshot || !ts || ts.version !== versionInfo) return;
    st.sentKey = this.keyOf(ts.version, st);
    st.sentVersion = ts.version;
    st.sentConfigVersion = snapshot.configVersion;
    recordSend(this.ctx, typeUrl, ts.version, snapshot.configVersion, 0);
    recordAck(this.ctx, typeUrl, ts.version, snapshot.configVersion);
  }

  /** A new config version: every subscribed type, in the order Envoy needs. */
  onSnapshot(): void {
    for (const typeUrl of PUSH_ORDER) if (this.types.has(typeUrl)) this.push(typeUrl);
  }

  private keyOf(version: string, st: TypeState): string {
    return st.wildcard ? `${version}|*` : `${version}|${[...st.names].sort().join(',')}`;
  }

  private push(typeUrl: ServedTypeUrl): void {
    const st = this.types.get(typeUrl)!;
    const snapshot = this.ctx.cache.snapshotFor(this.ctx.record.node);
    const ts = snapshot?.types.get(typeUrl);
    if (!snapshot || !ts) return;
    const key = this.keyOf(ts.version, st);
    if (key === st.sentKey || key === st.rejectedKey) return;
    const resources: EncodedResource[] = st.wildcard
      ? [...ts.resources.values()]
      : [...st.names].flatMap((n) => {
          const r = ts.resources.get(n);
          return r ? [r] : [];
        });
    const nonce = String(++this.nonce);
    const bytes = encodeDiscoveryResponse(ts.version, typeUrl, nonce, resources);
    st.sentKey = key;
    st.sentVersion = ts.version;
    st.sentConfigVersion = snapshot.configVersion;
    st.sentNonce = nonce;
    this.ctx.record.warnings = snapshot.warnings;
    recordSend(this.ctx, typeUrl, ts.version, snapshot.configVersion, bytes.length);
    this.ctx.send(bytes);
  }
}
