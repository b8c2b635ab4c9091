// Make-before-break, one rule for both protocols: no request may meet a missing or still-warming
// cluster. Listeners and routes go out only once the proxy holds every current cluster, and the
// endpoints of every EDS one, at their current versions; a cluster the new version drops (and its
// endpoints) stays until the proxy holds the current listeners and routes, which no longer name it.
// Adds and changes of clusters and endpoints are never held back, so every type converges: routing
// waits only on what is always sent, and removals wait only on routing.
import { resourceReferences } from '../envoy-api/resource-references.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { EncodedResource } from './encoded-resource.js';
import { selectResources, type Snapshot, type ServedTypeUrl } from './snapshot.js';
import { subscriptionKey } from './subscription.js';
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

const endpointNameLists = new WeakMap<ReadonlyMap<string, EncodedResource>, { readonly names: readonly string[]; readonly key: string }>();

/**
 * The ClusterLoadAssignments a set of clusters reads, sorted, and their key as a subscription to
 * exactly those names has it; worked out once per set (a snapshot's clusters are one shared set).
 */
function endpointNames(clusters: ReadonlyMap<string, EncodedResource>): { readonly names: readonly string[]; readonly key: string } {
  let found = endpointNameLists.get(clusters);
  if (!found) {
    const names = resourceReferences({ clusters: [...clusters.values()].map((c) => c.json) }).endpoints;
    endpointNameLists.set(clusters, (found = { names, key: subscriptionKey(names) }));
  }
  return found;
}

/** Undefined once the proxy holds every current cluster and the endpoints of each EDS one; else what it waits for. */
export function clustersPending(snapshot: Snapshot, view: StreamView): string | undefined {
  const cds = view.get(TypeUrl.Cluster);
  if (!cds) return undefined;
  const clusters = cds.wanted(snapshot);
  if (!cds.holdsAll(clusters)) return 'the proxy to acknowledge the current clusters (CDS)';
  const { names, key } = endpointNames(clusters);
  if (names.length === 0) return undefined;
  const eds = view.get(TypeUrl.ClusterLoadAssignment);
  // An Envoy asks for exactly the endpoints its clusters read: then there is nothing to look up.
  const asked = eds !== undefined && (eds.subscription.wildcard || eds.subscription.key === key);
  const unasked = asked ? [] : names.filter((n) => !eds?.subscription.wants(n));
  if (unasked.length > 0) return `the proxy to ask for the endpoints of ${list(unasked)} (EDS)`;
  const want = selectResources(snapshot.types.get(TypeUrl.ClusterLoadAssignment)!, key, names);
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
    const names = heldEndpointNames(view.get(TypeUrl.Cluster));
    return names.size > 0 ? { keep: { names, reason: 'make-before-break: the endpoints of a cluster the proxy still holds stay' } } : {};
  }
  return {};
}

const EMPTY: ReadonlySet<string> = new Set();
const heldEndpointSets = new WeakMap<ReadonlyMap<string, unknown>, ReadonlySet<string>>();

/** The endpoints the clusters a proxy holds read (a cluster known only by version counts as EDS by its name). */
function heldEndpointNames(cds: TypeState | undefined): ReadonlySet<string> {
  if (!cds) return EMPTY;
  const exactly = cds.held.exactly;
  if (exactly) {
    let names = heldEndpointSets.get(exactly);
    if (!names) heldEndpointSets.set(exactly, (names = new Set(endpointNames(exactly).names)));
    return names;
  }
  const held = [...cds.held.entries()].map(([name, h]) => h.resource?.json ?? { name, type: 'EDS' });
  return new Set(resourceReferences({ clusters: held }).endpoints);
}

function list(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
