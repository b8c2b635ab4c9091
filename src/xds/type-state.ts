// One resource type on one ADS stream, as both protocols see it: what the proxy asked for, what it
// holds (has acknowledged), what is on the wire to it, and what it rejected. The sync state that
// /status, CSDS and `status --wait` report is derived from this against the current snapshot, never
// recorded on the side, so it cannot drift from what the stream actually did.
//
// Most of the time a proxy holds exactly what it asked for of some snapshot. That is kept as a
// reference to the snapshot's (shared) selection rather than a map of its own, so a thousand streams
// in step cost a reference each, and "does it hold what it should?" is one comparison.
import type { EncodedResource } from './encoded-resource.js';
import { selectResources, type ServedTypeUrl, type Snapshot, type TypeSnapshot } from './snapshot.js';
import { Subscription } from './subscription.js';

/** A response on the wire, not yet acknowledged. */
export interface InFlight {
  readonly nonce: string;
  /** The version_info (SotW: the type's version, delta: the config version) it carried. */
  readonly version: string;
  readonly configVersion: number;
  /** What it sets, by name. */
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** What it removes. */
  readonly removed: readonly string[];
  /** Identifies its content: SotW's type version, subscription and retained names. */
  readonly key: string;
  /** When acknowledged, the proxy holds exactly this selection (and nothing else); undefined: apply `resources` and `removed`. */
  readonly after: ReadonlyMap<string, EncodedResource> | undefined;
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

/** Nothing: what every stream holds at first (one object, so their first responses are one too). */
const NOTHING: ReadonlyMap<string, EncodedResource> = new Map();

/** What the proxy holds of one type: a shared selection it holds exactly, or a map of its own. */
export class HeldResources {
  private shared: ReadonlyMap<string, EncodedResource> | undefined = NOTHING;
  private own: Map<string, Held> | undefined;

  /** The selection the proxy holds exactly, if it does. */
  get exactly(): ReadonlyMap<string, EncodedResource> | undefined {
    return this.shared;
  }

  get size(): number {
    return (this.shared ?? this.own!).size;
  }

  get(name: string): Held | undefined {
    if (this.shared) {
      const r = this.shared.get(name);
      return r && { version: r.version, resource: r };
    }
    return this.own!.get(name);
  }

  has(name: string): boolean {
    return (this.shared ?? this.own!).has(name);
  }

  names(): IterableIterator<string> {
    return (this.shared ?? this.own!).keys();
  }

  *entries(): IterableIterator<[string, Held]> {
    if (this.shared) for (const [n, r] of this.shared) yield [n, { version: r.version, resource: r }];
    else yield* this.own!;
  }

  /** The proxy now holds exactly `selection`. */
  replace(selection: ReadonlyMap<string, EncodedResource>): void {
    this.shared = selection;
    this.own = undefined;
  }

  set(name: string, held: Held): void {
    this.materialize().set(name, held);
  }

  delete(name: string): void {
    if (this.has(name)) this.materialize().delete(name);
  }

  private materialize(): Map<string, Held> {
    if (!this.own) {
      this.own = new Map([...this.entries()]);
      this.shared = undefined;
    }
    return this.own;
  }
}

export class TypeState {
  readonly subscription: Subscription;
  /** What the proxy holds, by name, as far as its acknowledgements tell. */
  readonly held = new HeldResources();
  inFlight: InFlight | undefined;
  /** Key of the last response sent (in flight or acknowledged): an identical one is not sent again. */
  sentKey: string | undefined;
  /** Nonce of the last response sent: a request quoting another is stale. */
  lastNonce: string | undefined;
  rejected: Rejection | undefined;

  constructor(readonly typeUrl: ServedTypeUrl) {
    this.subscription = new Subscription(typeUrl);
  }

  /** The current resources of this type the proxy asked for: the same map for every stream asking for the same names. */
  wanted(snapshot: Snapshot): ReadonlyMap<string, EncodedResource> {
    const ts = snapshot.types.get(this.typeUrl);
    if (!ts) return new Map();
    return this.wantedOf(ts);
  }

  wantedOf(ts: TypeSnapshot): ReadonlyMap<string, EncodedResource> {
    return this.subscription.wildcard ? ts.resources : selectResources(ts, this.subscription.key, this.subscription.names);
  }

  /** The proxy holds every resource of `want` at its current version, and nothing is on the wire. */
  holdsAll(want: ReadonlyMap<string, EncodedResource>): boolean {
    if (this.inFlight) return false;
    const exactly = this.held.exactly;
    if (exactly === want) return true;
    for (const [name, r] of want) if (this.held.get(name)?.version !== r.version) return false;
    return true;
  }

  /** Names the proxy still holds that `want` no longer has. */
  extras(want: ReadonlyMap<string, EncodedResource>): string[] {
    if (this.held.exactly === want) return [];
    return [...this.held.names()].filter((n) => !want.has(n));
  }

  /** The proxy rejected this version of `name` (and it has not been offered a newer one since). */
  refused(name: string, version: string): boolean {
    return this.rejected?.versions.get(name) === version;
  }

  acknowledge(): InFlight | undefined {
    const f = this.inFlight;
    if (!f) return undefined;
    if (f.after) {
      this.held.replace(f.after);
    } else {
      for (const [name, r] of f.resources) this.held.set(name, { version: r.version, resource: r });
      for (const name of f.removed) this.held.delete(name);
    }
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
