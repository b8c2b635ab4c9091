// What a proxy has asked for of one resource type on one stream: everything (wildcard) and/or some
// names. State of the world replaces it with every request; delta updates it with subscribe and
// unsubscribe lists (after go-control-plane's pkg/server/stream/v3/subscription.go).
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
import type { DiscoveryRequest } from '../envoy-api/discovery-codec.js';
import { NAMED_TYPES, type ServedTypeUrl } from './snapshot.js';

export class Subscription {
  private wildcardFlag: boolean;
  private readonly named = new Set<string>();
  /** The subscription as a string, kept current (it is part of every SotW response key). */
  key = '';

  constructor(readonly typeUrl: ServedTypeUrl) {
    // LDS and CDS start as wildcard (the legacy "empty list means everything"); named types do not.
    this.wildcardFlag = !NAMED_TYPES.has(typeUrl);
    this.updateKey();
  }

  get wildcard(): boolean {
    return this.wildcardFlag;
  }

  get names(): ReadonlySet<string> {
    return this.named;
  }

  wants(name: string): boolean {
    return this.wildcardFlag || this.named.has(name);
  }

  /** The resource_names bytes of the last state-of-the-world request (see DiscoveryRequest.resourceNamesBytes). */
  private lastSotwNames: Buffer | undefined;

  /**
   * A state-of-the-world request names the whole set. An empty list keeps a wildcard type wildcard;
   * `*` asks for everything explicitly; a list of names alone ends the wildcard. Returns the names no
   * longer wanted. An ACK repeats the list of the request before: its bytes are compared, not its names.
   */
  setSotw(req: Pick<DiscoveryRequest, 'resourceNames' | 'resourceNamesBytes'>): string[] {
    const bytes = req.resourceNamesBytes;
    if (bytes && this.lastSotwNames?.equals(bytes)) return [];
    this.lastSotwNames = bytes && Buffer.from(bytes);
    const resourceNames = req.resourceNames;
    const names = new Set(resourceNames.filter((n) => n !== '*'));
    const wasWildcard = this.wildcardFlag;
    if (!NAMED_TYPES.has(this.typeUrl)) this.wildcardFlag = resourceNames.includes('*') || (names.size === 0 && this.wildcardFlag);
    const dropped = [...this.named].filter((n) => !names.has(n));
    if (dropped.length === 0 && names.size === this.named.size && wasWildcard === this.wildcardFlag) return [];
    this.named.clear();
    for (const n of names) this.named.add(n);
    this.updateKey();
    return this.wildcardFlag ? [] : dropped;
  }

  /** A delta request changes the set; `*` subscribes or unsubscribes the wildcard. Returns the names no longer wanted. */
  updateDelta(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): string[] {
    const wasWildcard = this.wildcardFlag;
    const before = this.named.size;
    // The first request of a wildcard type with no names subscribes to everything.
    if (first && !NAMED_TYPES.has(this.typeUrl)) this.wildcardFlag = subscribe.length === 0 || subscribe.includes('*');
    else if (subscribe.includes('*')) this.wildcardFlag = true;
    for (const n of subscribe) if (n !== '*') this.named.add(n);
    const added = this.named.size !== before;
    const dropped: string[] = [];
    for (const n of unsubscribe) {
      if (n === '*') this.wildcardFlag = false;
      else if (this.named.delete(n)) dropped.push(n);
    }
    // An ACK changes nothing: the key stays.
    if (added || dropped.length > 0 || wasWildcard !== this.wildcardFlag || first) this.updateKey();
    return dropped;
  }

  private updateKey(): void {
    this.key = this.wildcardFlag ? '*' : subscriptionKey([...this.named].sort());
  }
}

/** A name set as a key (the names sorted): equal sets, equal keys. */
export function subscriptionKey(sortedNames: readonly string[]): string {
  return sortedNames.join('\0');
}
