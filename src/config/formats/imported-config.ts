// The shadowplane config an import builds, with where each part came from. Every listener, virtual
// host, route, mirror and cluster it creates is noted with the source object it stands for, so a
// problem the ordinary validation finds in the generated config is reported at that source's
// file:line:col, and `convert` can say in a comment where each part comes from.
import type { FieldPath } from '../problems.js';
import type { ClusterConfig, ConfigFile, ListenerConfig } from '../schema.js';
import type { SourceRef } from './source.js';
import { compareStrings } from './values.js';

export class ImportedConfig {
  readonly listeners: ListenerConfig[] = [];
  private readonly clusters = new Map<string, ClusterConfig>();
  private readonly origins = new WeakMap<object, SourceRef>();

  /** Records where `part` comes from; returns it. */
  note<T extends object>(part: T, at: SourceRef): T {
    this.origins.set(part, at);
    return part;
  }

  origin(part: object): SourceRef | undefined {
    return this.origins.get(part);
  }

  /**
   * The cluster named `name`, created by `make` the first time it is asked for. Several routes may
   * send to one backend; each asks for its cluster and they share it.
   */
  cluster(name: string, at: SourceRef, make: () => Omit<ClusterConfig, 'name'>): string {
    if (!this.clusters.has(name)) this.clusters.set(name, this.note({ name, ...make() } as ClusterConfig, at));
    return name;
  }

  hasCluster(name: string): boolean {
    return this.clusters.has(name);
  }

  toConfig(): ConfigFile {
    return { listeners: this.listeners, clusters: [...this.clusters.values()].sort((a, b) => compareStrings(a.name, b.name)) };
  }

  /** The source of the deepest noted part along `path` in `config` (as returned by toConfig). */
  originAt(config: ConfigFile, path: FieldPath): SourceRef | undefined {
    let node: unknown = config;
    let found: SourceRef | undefined;
    for (const part of path) {
      if (typeof node !== 'object' || node === null) break;
      node = (node as Record<string | number, unknown>)[part];
      if (typeof node === 'object' && node !== null) found = this.origins.get(node) ?? found;
    }
    return found;
  }
}
