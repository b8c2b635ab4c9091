// What each node should be served: the current config version's snapshot for the node's group.
// A group is the set of listeners a node is selected for, plus its Envoy version's gating; snapshots
// are built on first use and shared by every node of the group.
import { EventEmitter } from 'node:events';
import type { Model } from '../model/types.js';
import { listenerSelectsNode } from '../translate/node-selection.js';
import { Translator } from '../translate/resources.js';
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { GenerationMemo, ListMemo } from '../memo/generation-memo.js';
import { ResourceEncoder } from './encoded-resource.js';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { detachRouteConfiguration, mergeLayers, runtimeResource } from './runtime-layer.js';
import { buildSnapshot, ConsistencyCheck, type Snapshot, type TypeSnapshot } from './snapshot.js';
import { gateRoutes, needsGating } from './version-gate.js';

/** A config version that would have published inconsistent resources; the previous one stays. */
export class InconsistentSnapshotError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`inconsistent snapshot: ${problems.join('; ')}`);
    this.name = 'InconsistentSnapshotError';
  }
}

export interface CacheEvents {
  update: [configVersion: number];
}

export class SnapshotCache extends EventEmitter<CacheEvents> {
  private model: Model | undefined;
  private version = 0;
  private revision = '';
  private publishedAt = 0;
  private groups = new Map<string, Snapshot>();
  // Each stage keeps what the last version built, so an edit costs what it touched.
  private readonly translator = new Translator();
  private readonly detached = new GenerationMemo<TypedJson, { route: TypedJson; layer: JsonObject }>();
  private readonly encoder = new ResourceEncoder();
  private readonly consistency = new ConsistencyCheck();
  private readonly typeSnapshots = new GenerationMemo<string, TypeSnapshot>();
  /** The runtime layer of the same route configurations is the same resource object. */
  private readonly runtime = new ListMemo<JsonObject, TypedJson>();

  get configVersion(): number {
    return this.version;
  }

  /** When the current version was published (ms since epoch), for change → ACK latency. */
  get publishedAtMs(): number {
    return this.publishedAt;
  }

  get ready(): boolean {
    return this.model !== undefined;
  }

  /**
   * Publishes a new config version, named `revision` by its source (the same in every process serving
   * it; by default its number) and numbered `version` (etcd's mod revision; else the next in this process). Throws
   * InconsistentSnapshotError and keeps the old one if it does not hold together.
   */
  publish(model: Model, revision?: string, version = this.version + 1): number {
    revision ??= String(version);
    this.translator.nextGeneration();
    this.detached.nextGeneration();
    this.encoder.nextGeneration();
    this.consistency.nextGeneration();
    this.typeSnapshots.nextGeneration();
    const probe = this.build(model, version, revision, undefined);
    const problems = this.consistency.check(probe);
    if (problems.length > 0) throw new InconsistentSnapshotError(problems);
    this.model = model;
    this.version = version;
    this.revision = revision;
    this.publishedAt = Date.now();
    this.groups = new Map([[this.groupKey(model, undefined), probe]]);
    this.emit('update', this.version);
    return this.version;
  }

  /** The snapshot for `node` (undefined node: everything, as `render` shows it). */
  snapshotFor(node: NodeInfo | undefined): Snapshot | undefined {
    if (!this.model) return undefined;
    const key = this.groupKey(this.model, node);
    let s = this.groups.get(key);
    if (!s) {
      s = this.build(this.model, this.version, this.revision, node);
      this.groups.set(key, s);
    }
    return s;
  }

  private readonly nodeGroups = new WeakMap<NodeInfo, { readonly model: Model; readonly key: string }>();

  /** A node selected for every listener, with no gating, is served what `render` shows: one group. */
  private groupKey(model: Model, node: NodeInfo | undefined): string {
    if (!node) return this.computeGroupKey(model, undefined);
    const known = this.nodeGroups.get(node);
    if (known?.model === model) return known.key;
    const key = this.computeGroupKey(model, node);
    this.nodeGroups.set(node, { model, key });
    return key;
  }

  private computeGroupKey(model: Model, node: NodeInfo | undefined): string {
    const selected = model.listeners.map((l) => (!node || listenerSelectsNode(l, node) ? '1' : '0')).join('');
    const gate = node && needsGating(node.envoyVersion) ? node.envoyVersion : '';
    return `${selected}|${gate}`;
  }

  private build(model: Model, version: number, revision: string, node: NodeInfo | undefined): Snapshot {
    const r = this.translator.translate(model, node);
    const detached = r.routes.map((rc) => this.detached.get(rc, undefined, () => detachRouteConfiguration(rc)));
    const routes = detached.map((d) => d.route);
    const layers = detached.map((d) => d.layer);
    const gated = node?.envoyVersion && needsGating(node.envoyVersion) ? gateRoutes(routes, node.envoyVersion) : { routes, warnings: [] };
    return buildSnapshot(
      version,
      { listeners: r.listeners, routes: gated.routes, clusters: r.clusters, endpoints: r.endpoints, runtime: [this.runtime.get(layers, () => runtimeResource(mergeLayers(layers)))] },
      this.encoder,
      { warnings: gated.warnings, configRevision: revision, previous: this.typeSnapshots },
    );
  }
}
