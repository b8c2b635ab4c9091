// An immutable, versioned set of resources for one group of nodes, checked for consistency before it
// is published (after go-control-plane's pkg/cache/v3/snapshot.go).
import { createHash } from 'node:crypto';
import type { TypedJson } from '../envoy-api/proto-json.js';
import { edsServiceName, rdsRouteConfigNames } from '../envoy-api/resource-references.js';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
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

function typeSnapshot(list: readonly TypedJson[], encoder: ResourceEncoder): TypeSnapshot {
  const resources = new Map<string, EncodedResource>();
  for (const json of list) {
    const r = encoder.encode(json);
    resources.set(r.name, r);
  }
  const h = createHash('sha256');
  for (const name of [...resources.keys()].sort()) h.update(`${name}\0${resources.get(name)!.version}\0`);
  return { version: h.digest('hex').slice(0, 12), resources };
}

export function buildSnapshot(configVersion: number, input: ResourceSet, encoder: ResourceEncoder, warnings: readonly string[] = [], configRevision = String(configVersion)): Snapshot {
  return {
    configVersion,
    configRevision,
    warnings,
    types: new Map<string, TypeSnapshot>([
      [TypeUrl.Runtime, typeSnapshot(input.runtime ?? [], encoder)],
      [TypeUrl.Cluster, typeSnapshot(input.clusters, encoder)],
      [TypeUrl.ClusterLoadAssignment, typeSnapshot(input.endpoints, encoder)],
      [TypeUrl.Listener, typeSnapshot(input.listeners, encoder)],
      [TypeUrl.RouteConfiguration, typeSnapshot(input.routes, encoder)],
    ]),
  };
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

/**
 * Every EDS cluster has its endpoints, every RDS name its route configuration, every primary and
 * static mirror cluster exists. Returns what is missing; empty when consistent.
 */
export function checkConsistency(s: Snapshot): string[] {
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
    walk(rc.json, (k, v) => {
      if (k === 'cluster' && typeof v === 'string' && !clusters.has(v)) problems.push(`route configuration "${rc.name}" names missing cluster "${v}"`);
      if (k === 'weighted_clusters') {
        for (const wc of (v as { clusters: Array<{ name: string }> }).clusters) {
          if (!clusters.has(wc.name)) problems.push(`route configuration "${rc.name}" names missing cluster "${wc.name}"`);
        }
      }
    });
  }
  return [...new Set(problems)];
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
