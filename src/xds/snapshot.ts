// An immutable, versioned set of resources for one group of nodes, checked for consistency before it
// is published (after go-control-plane's pkg/cache/v3/snapshot.go).
import { createHash } from 'node:crypto';
import type { TypedJson } from '../envoy-api/proto-json.js';
import { edsServiceName, rdsRouteConfigNames } from '../envoy-api/resource-references.js';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import { GenerationMemo } from '../memo/generation-memo.js';
import type { EncodedResource, ResourceEncoder } from './encoded-resource.js';

/** The order Envoy needs on an ADS stream: runtime, then clusters and their endpoints, then listeners and routes. */
export const PUSH_ORDER = [TypeUrl.Runtime, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration] as const;
export type ServedTypeUrl = (typeof PUSH_ORDER)[number];

/** Resource types requested by name; the others (LDS, CDS) default to wildcard. */
export const NAMED_TYPES: ReadonlySet<string> = new Set([TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration, TypeUrl.Runtime]);

export const TYPE_SHORT_NAMES: Readonly<Record<ServedTypeUrl, string>> = {
  [TypeUrl.Runtime]: 'RTDS',
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.ClusterLoadAssignment]: 'EDS',
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.RouteConfiguration]: 'RDS',
};

export interface TypeSnapshot {
  /** Hash of the names and versions of the resources: unchanged resources, unchanged version. */
  readonly version: string;
  readonly resources: ReadonlyMap<string, EncodedResource>;
}

export interface Snapshot {
  /** The config version this snapshot was built from. */
  readonly configVersion: number;
  /**
   * That version as its source names it (etcd's mod revision, a file's content hash), the same in
   * every replica serving it: delta responses carry it as system_version_info.
   */
  readonly configRevision: string;
  readonly types: ReadonlyMap<string, TypeSnapshot>;
  /** Things this group's proxies get in a reduced form (version gating). */
  readonly warnings: readonly string[];
}

/**
 * A type's resources, versioned. `previous` keeps the type snapshots of the last version by their
 * version: a type an edit did not change is the very object it was, so what streams worked out
 * about it (what they hold, what they asked for) stays true with no work.
 */
function typeSnapshot(typeUrl: string, list: readonly TypedJson[], encoder: ResourceEncoder, previous: GenerationMemo<string, TypeSnapshot> | undefined): TypeSnapshot {
  const resources = new Map<string, EncodedResource>();
  for (const json of list) {
    const r = encoder.encode(json);
    resources.set(r.name, r);
  }
  // One update of the whole text: a hash call per resource costs more than the hashing.
  const text = [...resources.keys()].sort().map((name) => `${name}\0${resources.get(name)!.version}\0`).join('');
  const made: TypeSnapshot = { version: createHash('sha256').update(text).digest('hex').slice(0, 12), resources };
  return previous ? previous.get(`${typeUrl}\0${made.version}`, undefined, () => made) : made;
}

export interface SnapshotOptions {
  /** Things this group's proxies get in a reduced form (version gating). */
  readonly warnings?: readonly string[];
  /** The version as its source names it (see Snapshot.configRevision); the number by default. */
  readonly configRevision?: string;
  /** The type snapshots of the last version, to be the very objects again where nothing changed. */
  readonly previous?: GenerationMemo<string, TypeSnapshot>;
}

export function buildSnapshot(configVersion: number, input: ResourceSet, encoder: ResourceEncoder, o: SnapshotOptions = {}): Snapshot {
  const ts = (typeUrl: string, list: readonly TypedJson[]): [string, TypeSnapshot] => [typeUrl, typeSnapshot(typeUrl, list, encoder, o.previous)];
  return {
    configVersion,
    configRevision: o.configRevision ?? String(configVersion),
    warnings: o.warnings ?? [],
    types: new Map<string, TypeSnapshot>([
      ts(TypeUrl.Runtime, input.runtime ?? []),
      ts(TypeUrl.Cluster, input.clusters),
      ts(TypeUrl.ClusterLoadAssignment, input.endpoints),
      ts(TypeUrl.Listener, input.listeners),
      ts(TypeUrl.RouteConfiguration, input.routes),
    ]),
  };
}

const selections = new WeakMap<TypeSnapshot, Map<string, ReadonlyMap<string, EncodedResource>>>();
const MAX_SHARED_SELECTIONS = 256;

/**
 * The resources of `ts` among `names` (`key` identifies the name set, e.g. a subscription's key): one
 * map per type snapshot and name set, shared by every stream that asks for the same names, so
 * comparing what two streams want is comparing two references.
 */
export function selectResources(ts: TypeSnapshot, key: string, names: Iterable<string>): ReadonlyMap<string, EncodedResource> {
  let byKey = selections.get(ts);
  if (!byKey) selections.set(ts, (byKey = new Map()));
  let selected = byKey.get(key);
  if (!selected) {
    const out = new Map<string, EncodedResource>();
    for (const n of names) {
      const r = ts.resources.get(n);
      if (r) out.set(n, r);
    }
    selected = out;
    // A fleet asks for a handful of name sets; a client churning through others is not kept for.
    if (byKey.size < MAX_SHARED_SELECTIONS) byKey.set(key, selected);
  }
  return selected;
}


function walk(value: unknown, visit: (key: string, v: unknown) => void): void {
  if (Array.isArray(value)) value.forEach((v) => walk(v, visit));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      visit(k, v);
      walk(v, visit);
    }
  }
}

/** The clusters a route configuration sends to (primary, weighted and static mirror clusters). */
function routeClusters(rc: EncodedResource): string[] {
  const names = new Set<string>();
  walk(rc.json, (k, v) => {
    if (k === 'cluster' && typeof v === 'string') names.add(v);
    if (k === 'weighted_clusters') for (const wc of (v as { clusters: Array<{ name: string }> }).clusters) names.add(wc.name);
  });
  return [...names];
}

/**
 * Every EDS cluster has its endpoints, every RDS name its route configuration, every primary and
 * static mirror cluster exists. What each route configuration names is read once per encoded
 * resource and kept for the next version, as the other stages keep theirs.
 */
export class ConsistencyCheck {
  private readonly routeClusters = new GenerationMemo<EncodedResource, readonly string[]>();

  nextGeneration(): void {
    this.routeClusters.nextGeneration();
  }

  /** What is missing; empty when consistent. */
  check(s: Snapshot): string[] {
    const names = (t: string): ReadonlySet<string> => new Set(s.types.get(t)?.resources.keys() ?? []);
    const clusters = names(TypeUrl.Cluster);
    const endpoints = names(TypeUrl.ClusterLoadAssignment);
    const routes = names(TypeUrl.RouteConfiguration);
    const problems: string[] = [];
    for (const c of s.types.get(TypeUrl.Cluster)?.resources.values() ?? []) {
      const service = edsServiceName(c.json);
      if (service !== undefined && !endpoints.has(service)) problems.push(`EDS cluster "${c.name}" has no ClusterLoadAssignment`);
    }
    for (const l of s.types.get(TypeUrl.Listener)?.resources.values() ?? []) {
      for (const name of rdsRouteConfigNames(l.json)) {
        if (!routes.has(name)) problems.push(`listener "${l.name}" names missing route configuration "${name}"`);
      }
    }
    for (const rc of s.types.get(TypeUrl.RouteConfiguration)?.resources.values() ?? []) {
      for (const c of this.routeClusters.get(rc, undefined, () => routeClusters(rc))) {
        if (!clusters.has(c)) problems.push(`route configuration "${rc.name}" names missing cluster "${c}"`);
      }
    }
    return [...new Set(problems)];
  }
}

/** What a snapshot misses (ConsistencyCheck, once). */
export function checkConsistency(s: Snapshot): string[] {
  return new ConsistencyCheck().check(s);
}

/** The snapshot's resources in proto3 JSON form, as a data plane applies them. */
export function snapshotResources(s: Snapshot): ResourceSet {
  const json = (typeUrl: string): TypedJson[] => [...(s.types.get(typeUrl)?.resources.values() ?? [])].map((r) => r.json);
  return {
    listeners: json(TypeUrl.Listener),
    routes: json(TypeUrl.RouteConfiguration),
    clusters: json(TypeUrl.Cluster),
    endpoints: json(TypeUrl.ClusterLoadAssignment),
    runtime: json(TypeUrl.Runtime),
  };
}
