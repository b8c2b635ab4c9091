// Model → the listeners, routes, clusters and endpoints one node receives (its runtime layer is the
// xDS server's, src/xds/runtime-layer.ts). Pure: same model and node, same output.
import type { TypedJson } from '../envoy-api/proto-json.js';
import type { ResourceSet } from '../envoy-api/resource-set.js';
import { GenerationMemo } from '../memo/generation-memo.js';
import type { Cluster, Listener, MirrorPolicy, Model } from '../model/types.js';
import { buildCluster } from './cluster.js';
import { buildClusterLoadAssignment } from './endpoint.js';
import { buildListener } from './listener.js';
import { hasMirrorPaths, mirrorPathResources } from './mirror-path.js';
import { listenerSelectsNode, type NodeIdentity } from './node-selection.js';
import { buildRouteConfiguration } from './route-configuration.js';

/** Clusters a listener can send to, or null when a header may name any cluster. */
function referencedClusters(l: Listener): ReadonlySet<string> | null {
  const names = new Set<string>();
  let unrestricted = false;
  const addMirrors = (list: readonly MirrorPolicy[]): void => {
    for (const m of list) {
      if (m.target.kind === 'cluster') names.add(m.target.cluster);
      else if (m.target.allowed === null) unrestricted = true;
      else m.target.allowed.forEach((c) => names.add(c));
    }
  };
  addMirrors(l.mirrors);
  for (const v of l.virtualHosts) {
    addMirrors(v.mirrors);
    for (const r of v.routes) {
      addMirrors(r.mirrors);
      if (r.primary.kind === 'cluster') names.add(r.primary.cluster);
      else r.primary.clusters.forEach((c) => names.add(c.cluster));
    }
  }
  return unrestricted ? null : names;
}

interface TranslatedListener {
  readonly listener: TypedJson;
  readonly routes: TypedJson;
  readonly clusters: ReadonlySet<string> | null;
  /** Some mirror of the listener sends copies to another path (mirror-path.ts). */
  readonly pathMirrors: boolean;
}

interface TranslatedCluster {
  readonly cluster: TypedJson;
  readonly endpoints: TypedJson | undefined;
}

/**
 * Translates models one config version after another: a listener or cluster of the model that is the
 * very object of the previous version (ModelBuilder keeps unchanged parts) gets the very resources it
 * got then, so the encoder, which keys on them, does not encode them again.
 */
export class Translator {
  private readonly listeners = new GenerationMemo<Listener, TranslatedListener>();
  private readonly clusters = new GenerationMemo<Cluster, TranslatedCluster>();

  /** Called once per config version: what the last version did not use is let go. */
  nextGeneration(): void {
    this.listeners.nextGeneration();
    this.clusters.nextGeneration();
  }

  /** What `node` should be served; without a node, everything in the model. */
  translate(model: Model, node?: NodeIdentity): ResourceSet {
    const selected = node ? model.listeners.filter((l) => listenerSelectsNode(l, node)) : model.listeners;
    const listeners = selected.map((l) =>
      this.listeners.get(l, undefined, () => ({ listener: buildListener(l), routes: buildRouteConfiguration(l), clusters: referencedClusters(l), pathMirrors: hasMirrorPaths(l) })),
    );
    const unrestricted = listeners.some((l) => l.clusters === null);
    const wanted = new Set(listeners.flatMap((l) => [...(l.clusters ?? [])]));
    const clusters = model.clusters
      .filter((c) => unrestricted || wanted.has(c.name))
      .map((c) => this.clusters.get(c, undefined, () => ({ cluster: buildCluster(c), endpoints: c.discovery === 'eds' ? buildClusterLoadAssignment(c) : undefined })));
    const internal = listeners.some((l) => l.pathMirrors) ? mirrorPathResources(selected, model.clusters) : { listeners: [], routes: [], clusters: [] };
    return {
      listeners: [...listeners.map((l) => l.listener), ...internal.listeners],
      routes: [...listeners.map((l) => l.routes), ...internal.routes],
      clusters: [...clusters.map((c) => c.cluster), ...internal.clusters],
      endpoints: clusters.flatMap((c) => c.endpoints ?? []),
    };
  }
}

/** What `node` should be served; without a node, everything in the model. */
export function translate(model: Model, node?: NodeIdentity): ResourceSet {
  return new Translator().translate(model, node);
}
