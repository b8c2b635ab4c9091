// Model → the listeners, routes, clusters and endpoints one node receives (its runtime layer is the
// xDS server's, src/xds/runtime-layer.ts). Pure: same model and node, same output.
import type { ResourceSet } from '../envoy-api/resource-set.js';
import type { Listener, MirrorPolicy, Model } from '../model/types.js';
import { buildCluster } from './cluster.js';
import { buildClusterLoadAssignment } from './endpoint.js';
import { buildListener } from './listener.js';
import { mirrorPathResources } from './mirror-path.js';
import { listenerSelectsNode, type NodeIdentity } from './node-selection.js';
import { buildRouteConfiguration } from './route-configuration.js';

/** Clusters the listeners can send to, or null when a header may name any cluster. */
function referencedClusters(listeners: readonly Listener[]): Set<string> | null {
  const names = new Set<string>();
  let unrestricted = false;
  const addMirrors = (list: readonly MirrorPolicy[]): void => {
    for (const m of list) {
      if (m.target.kind === 'cluster') names.add(m.target.cluster);
      else if (m.target.allowed === null) unrestricted = true;
      else m.target.allowed.forEach((c) => names.add(c));
    }
  };
  for (const l of listeners) {
    addMirrors(l.mirrors);
    for (const v of l.virtualHosts) {
      addMirrors(v.mirrors);
      for (const r of v.routes) {
        addMirrors(r.mirrors);
        if (r.primary.kind === 'cluster') names.add(r.primary.cluster);
        else r.primary.clusters.forEach((c) => names.add(c.cluster));
      }
    }
  }
  return unrestricted ? null : names;
}

/** What `node` should be served; without a node, everything in the model. */
export function translate(model: Model, node?: NodeIdentity): ResourceSet {
  const listeners = node ? model.listeners.filter((l) => listenerSelectsNode(l, node)) : model.listeners;
  const wanted = referencedClusters(listeners);
  const clusters = model.clusters.filter((c) => wanted === null || wanted.has(c.name));
  const internal = mirrorPathResources(listeners, model.clusters);
  return {
    listeners: [...listeners.map(buildListener), ...internal.listeners],
    routes: [...listeners.map(buildRouteConfiguration), ...internal.routes],
    clusters: [...clusters.map(buildCluster), ...internal.clusters],
    endpoints: clusters.filter((c) => c.discovery === 'eds').map(buildClusterLoadAssignment),
  };
}
