// What a proxy has asked for of one resource type on one stream: everything (wildcard) and/or some
// names. State of the world replaces it with every request; delta updates it with subscribe and
// unsubscribe lists (after go-control-plane's pkg/server/stream/v3/subscription.go).
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
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

  /**
   * A state-of-the-world request names the whole set. An empty list keeps a wildcard type wildcard;
   * `*` asks for everything explicitly; a list of names alone ends the wildcard.
   */
  setSotw(resourceNames: readonly string[]): void {
    const names = resourceNames.filter((n) => n !== '*');
    if (!NAMED_TYPES.has(this.typeUrl)) this.wildcardFlag = resourceNames.includes('*') || (names.length === 0 && this.wildcardFlag);
    this.named.clear();
    for (const n of names) this.named.add(n);
    this.updateKey();
  }

  /** A delta request changes the set; `*` subscribes or unsubscribes the wildcard. Returns the names no longer wanted. */
  updateDelta(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): string[] {
    // The first request of a wildcard type with no names subscribes to everything.
    if (first && !NAMED_TYPES.has(this.typeUrl)) this.wildcardFlag = subscribe.length === 0 || subscribe.includes('*');
    else if (subscribe.includes('*')) this.wildcardFlag = true;
    for (const n of subscribe) if (n !== '*') this.named.add(n);
    const dropped: string[] = [];
    for (const n of unsubscribe) {
      if (n === '*') this.wildcardFlag = false;
      else if (this.named.delete(n)) dropped.push(n);
    }
    this.updateKey();
    return dropped;
  }

  private updateKey(): void {
    this.key = this.wildcardFlag ? '*' : [...this.named].sort().join(',');
  }
}
