// What each node should be served: the current config version's snapshot for the node's group.
// A group is the set of listeners a node is selected for, plus its Envoy version's gating; snapshots
// are built on first use and shared by every node of the group.
import { EventEmitter } from 'node:events';
import type { Model } from '../model/types.js';
import { listenerSelectsNode } from '../translate/node-selection.js';
import { translate } from '../translate/resources.js';
import { ResourceEncoder } from './encoded-resource.js';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { detachMirrorFractions, runtimeResource } from './runtime-layer.js';
import { buildSnapshot, checkConsistency, type Snapshot } from './snapshot.js';
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
  private readonly encoder = new ResourceEncoder();

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
   * it) and numbered `version` (etcd's mod revision; else the next in this process). Throws
   * InconsistentSnapshotError and keeps the old one if it does not hold together.
   */
  publish(model: Model, revision: string, version = this.version + 1): number {
    this.encoder.nextGeneration();
    const probe = this.build(model, version, revision, undefined);
    const problems = checkConsistency(probe);
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

  private groupKey(model: Model, node: NodeInfo | undefined): string {
    const selected = node ? model.listeners.map((l) => (listenerSelectsNode(l, node) ? '1' : '0')).join('') : '*';
    const gate = node && needsGating(node.envoyVersion) ? node.envoyVersion : '';
    return `${selected}|${gate}`;
  }

  private build(model: Model, version: number, revision: string, node: NodeInfo | undefined): Snapshot {
    const r = translate(model, node);
    const detached = detachMirrorFractions(r.routes);
    const gated = node?.envoyVersion && needsGating(node.envoyVersion) ? gateRoutes(detached.routes, node.envoyVersion) : { routes: detached.routes, warnings: [] };
    return buildSnapshot(
      version,
      { listeners: r.listeners, routes: gated.routes, clusters: r.clusters, endpoints: r.endpoints, runtime: [runtimeResource(detached.layer)] },
      this.encoder,
      gated.warnings,
      revision,
    );
  }
}
