// Make-before-break, one rule for both protocols: no request may meet a missing or still-warming
// cluster. Listeners and routes go out only once the proxy holds every current cluster, and the
// endpoints of every EDS one, at their current versions; a cluster the new version drops (and its
// endpoints) stays until the proxy holds the current listeners and routes, which no longer name it.
// Adds and changes of clusters and endpoints are never held back, so every type converges: routing
// waits only on what is always sent, and removals wait only on routing.
import { resourceReferences } from '../envoy-api/resource-references.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { Snapshot, ServedTypeUrl } from './snapshot.js';
import type { TypeState } from './type-state.js';

/** The stream's per-type state, as the rule reads it. */
export type StreamView = ReadonlyMap<ServedTypeUrl, TypeState>;

export interface Gate {
  /** Why nothing of this type may be sent now; undefined: it may. */
  readonly blocked?: string;
  /** Names whose removal must wait, and why. */
  readonly keep?: { readonly names: ReadonlySet<string>; readonly reason: string };
}

export function isRoutingType(typeUrl: ServedTypeUrl): boolean {
  return typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.RouteConfiguration;
}

/** Undefined once the proxy holds every current cluster and the endpoints of each EDS one; else what it waits for. */
export function clustersPending(snapshot: Snapshot, view: StreamView): string | undefined {
  const cds = view.get(TypeUrl.Cluster);
  if (!cds) return undefined;
  const clusters = cds.wanted(snapshot);
  if (!cds.holdsAll(clusters)) return 'the proxy to acknowledge the current clusters (CDS)';
  const names = resourceReferences({ clusters: [...clusters.values()].map((c) => c.json) }).endpoints;
  if (names.length === 0) return undefined;
  const eds = view.get(TypeUrl.ClusterLoadAssignment);
  const unasked = names.filter((n) => !eds?.subscription.wants(n));
  if (unasked.length > 0) return `the proxy to ask for the endpoints of ${list(unasked)} (EDS)`;
  const assignments = snapshot.types.get(TypeUrl.ClusterLoadAssignment)!.resources;
  const want = new Map(names.flatMap((n) => (assignments.has(n) ? [[n, assignments.get(n)!] as const] : [])));
  return eds!.holdsAll(want) ? undefined : 'the proxy to acknowledge the current endpoints (EDS)';
}

/** Undefined once the proxy holds exactly the current listeners and routes; else what it waits for. */
export function routingPending(snapshot: Snapshot, view: StreamView): string | undefined {
  for (const typeUrl of [TypeUrl.Listener, TypeUrl.RouteConfiguration] as const) {
    const st = view.get(typeUrl);
    if (!st) continue;
    const want = st.wanted(snapshot);
    if (!st.holdsAll(want) || st.extras(want).length > 0) {
      return `the proxy to acknowledge the current ${typeUrl === TypeUrl.Listener ? 'listeners (LDS)' : 'routes (RDS)'}`;
    }
  }
  return undefined;
}

/** What may be sent of `typeUrl` now. */
export function gate(typeUrl: ServedTypeUrl, snapshot: Snapshot, view: StreamView): Gate {
  if (isRoutingType(typeUrl)) {
    const waiting = clustersPending(snapshot, view);
    return waiting ? { blocked: `make-before-break: waiting for ${waiting}` } : {};
  }
  if (typeUrl === TypeUrl.Cluster) {
    const waiting = routingPending(snapshot, view);
    const cds = view.get(TypeUrl.Cluster);
    if (!waiting || !cds) return {};
    return { keep: { names: new Set(cds.extras(cds.wanted(snapshot))), reason: `make-before-break: removing clusters waits for ${waiting}` } };
  }
  if (typeUrl === TypeUrl.ClusterLoadAssignment) {
    // Endpoints stay while a cluster the proxy still holds reads them.
    const held = [...(view.get(TypeUrl.Cluster)?.held ?? [])].map(([name, h]) => h.resource?.json ?? { name, type: 'EDS' });
    const names = new Set(resourceReferences({ clusters: held }).endpoints);
    return names.size > 0 ? { keep: { names, reason: 'make-before-break: the endpoints of a cluster the proxy still holds stay' } } : {};
  }
  return {};
}

function list(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
