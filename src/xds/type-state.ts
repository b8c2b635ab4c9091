// One resource type on one ADS stream, as both protocols see it: what the proxy asked for, what it
// holds (has acknowledged), what is on the wire to it, and what it rejected. The sync state that
// /status, CSDS and `status --wait` report is derived from this against the current snapshot, never
// recorded on the side, so it cannot drift from what the stream actually did.
import type { EncodedResource } from './encoded-resource.js';
import type { Snapshot } from './snapshot.js';
import { Subscription } from './subscription.js';
import type { ServedTypeUrl } from './snapshot.js';

/** A response on the wire, not yet acknowledged. */
export interface InFlight {
  readonly nonce: string;
  /** The version_info (SotW: the type's version, delta: the config version) it carried. */
  readonly version: string;
  readonly configVersion: number;
  /** What it sets, by name. */
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** What it removes (delta only). */
  readonly removed: readonly string[];
  /** Identifies its content: SotW's type version, subscription and retained names. */
  readonly key: string;
}

export interface Rejection {
  readonly key: string;
  /** name → version the proxy refused; not offered again. */
  readonly versions: ReadonlyMap<string, string>;
  readonly message: string;
  readonly at: string;
}

/** A resource the proxy holds: its version, and the resource itself when this server sent it. */
export interface Held {
  readonly version: string;
  /** Undefined when known only by version (a reconnecting delta client's initial_resource_versions). */
  readonly resource: EncodedResource | undefined;
}

export class TypeState {
  readonly subscription: Subscription;
  /** What the proxy holds, by name, as far as its acknowledgements tell. */
  readonly held = new Map<string, Held>();
  inFlight: InFlight | undefined;
  /** Key of the last response sent (in flight or acknowledged): an identical one is not sent again. */
  sentKey: string | undefined;
  /** Nonce of the last response sent: a request quoting another is stale. */
  lastNonce: string | undefined;
  rejected: Rejection | undefined;

  constructor(readonly typeUrl: ServedTypeUrl) {
    this.subscription = new Subscription(typeUrl);
  }

  /** The current resources of this type the proxy asked for. */
  wanted(snapshot: Snapshot): Map<string, EncodedResource> {
    const out = new Map<string, EncodedResource>();
    const resources = snapshot.types.get(this.typeUrl)?.resources;
    if (!resources) return out;
    if (this.subscription.wildcard) return new Map(resources);
    for (const n of this.subscription.names) {
      const r = resources.get(n);
      if (r) out.set(n, r);
    }
    return out;
  }

  /** The proxy holds every resource of `want` at its current version, and nothing is on the wire. */
  holdsAll(want: ReadonlyMap<string, EncodedResource>): boolean {
    if (this.inFlight) return false;
    for (const [name, r] of want) if (this.held.get(name)?.version !== r.version) return false;
    return true;
  }

  /** Names the proxy still holds that `want` no longer has. */
  extras(want: ReadonlyMap<string, EncodedResource>): string[] {
    return [...this.held.keys()].filter((n) => !want.has(n));
  }

  /** The proxy rejected this version of `name` (and it has not been offered a newer one since). */
  refused(name: string, version: string): boolean {
    return this.rejected?.versions.get(name) === version;
  }

  acknowledge(): InFlight | undefined {
    const f = this.inFlight;
    if (!f) return undefined;
    for (const [name, r] of f.resources) this.held.set(name, { version: r.version, resource: r });
    for (const name of f.removed) this.held.delete(name);
    this.inFlight = undefined;
    this.rejected = undefined;
    return f;
  }

  reject(message: string): InFlight | undefined {
    const f = this.inFlight;
    if (!f) return undefined;
    this.rejected = {
      key: f.key,
      versions: new Map([...f.resources].map(([n, r]) => [n, r.version])),
      message,
      at: new Date().toISOString(),
    };
    this.inFlight = undefined;
    return f;
  }
}
