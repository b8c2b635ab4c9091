// `serve --data-plane builtin`: the TypeScript data path runs in the control plane's process and is
// fed the very snapshot an Envoy node would get over ADS, runtime layer included. It shows in /status
// like any proxy: each type SYNCED once applied, PENDING while applying, NACKED with the reason when
// the data plane refused it (a listener it cannot bind, say), which also makes /readyz not ready.
import type { Logger } from 'pino';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { runtimeValuesFromLayers } from '../proxy/index.js';
import type { HostedDataPlane } from './hosted-data-plane.js';
import type { ProxyRecord, ProxyRegistry, ResourceReport, SyncView, TypeSync } from '../xds/proxy-status.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';
import { PUSH_ORDER, snapshotResources, type ServedTypeUrl, type Snapshot } from '../xds/snapshot.js';

interface Refusal {
  readonly snapshot: Snapshot;
  readonly message: string;
  readonly at: string;
}

export class BuiltinDataPlaneFeed implements SyncView {
  private readonly record: ProxyRecord;
  private applied: Snapshot | undefined;
  private applying: Snapshot | undefined;
  private refused: Refusal | undefined;
  /** Versions are applied one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly onUpdate = (): void => void this.applyCurrent();

  constructor(
    private readonly cache: SnapshotCache,
    private readonly plane: Pick<HostedDataPlane, 'apply'>,
    private readonly node: NodeInfo,
    private readonly proxies: ProxyRegistry,
    private readonly logger: Logger,
    workers: number,
  ) {
    this.record = proxies.open('builtin', workers > 1 ? `${workers} worker processes` : 'in-process');
    this.record.bindNode(node);
    this.record.view = this;
  }

  /** Applies the current version, then every one published after it. */
  async start(): Promise<void> {
    this.cache.on('update', this.onUpdate);
    await this.applyCurrent();
  }

  stop(): void {
    this.cache.off('update', this.onUpdate);
    this.proxies.close(this.record);
  }

  /** Why the data plane is not serving: it has not applied a config yet, or it refused the current one. */
  problem(): string | undefined {
    if (!this.applied) return this.refused ? `the built-in data plane refused config version ${this.refused.snapshot.configVersion}: ${this.refused.message}` : 'the built-in data plane has not applied a config yet';
    const current = this.cache.snapshotFor(this.node);
    return this.refused && this.refused.snapshot === current ? `the built-in data plane refused config version ${current.configVersion}: ${this.refused.message}` : undefined;
  }

  private applyCurrent(): Promise<void> {
    this.queue = this.queue.then(async () => {
      const s = this.cache.snapshotFor(this.node);
      if (!s || s === this.applied) return;
      this.applying = s;
      const resources = snapshotResources(s);
      const result = await this.plane.apply(resources, runtimeValuesFromLayers(resources.runtime ?? []));
      this.applying = undefined;
      const at = new Date().toISOString();
      if (result.ok) {
        this.applied = s;
        this.refused = undefined;
        for (const [typeUrl, ts] of s.types) {
          const t = this.record.type(typeUrl as ServedTypeUrl);
          Object.assign(t, { sentVersion: ts.version, sentConfigVersion: s.configVersion, ackedVersion: ts.version, ackedConfigVersion: s.configVersion, ackedAt: at });
        }
        this.logger.info({ configVersion: s.configVersion }, 'built-in data plane applied the config');
      } else {
        this.refused = { snapshot: s, message: result.error.message, at };
        for (const [typeUrl, ts] of s.types) {
          if (this.applied?.types.get(typeUrl)?.version === ts.version) continue;
          this.record.type(typeUrl as ServedTypeUrl).lastNack = { version: ts.version, message: result.error.message, at };
        }
        this.logger.error({ configVersion: s.configVersion, error: result.error.message }, 'built-in data plane rejected the config; it keeps the previous one');
      }
    });
    return this.queue;
  }

  requestedTypes(): ServedTypeUrl[] {
    return [...PUSH_ORDER];
  }

  sync(typeUrl: ServedTypeUrl): TypeSync {
    const current = this.cache.snapshotFor(this.node);
    if (!current) return { state: 'STALE', reason: 'no config is served yet' };
    const version = current.types.get(typeUrl)?.version;
    if (this.applied?.types.get(typeUrl)?.version === version) return { state: 'SYNCED' };
    if (this.applying === current) return { state: 'PENDING', reason: `applying config version ${current.configVersion}` };
    if (this.refused?.snapshot === current) return { state: 'NACKED', reason: this.refused.message };
    return { state: 'STALE', reason: 'not applied yet' };
  }

  resources(typeUrl: ServedTypeUrl): ResourceReport[] {
    const current = this.cache.snapshotFor(this.node)?.types.get(typeUrl)?.resources ?? new Map();
    const applied = this.applied?.types.get(typeUrl)?.resources ?? new Map();
    const refused = this.refused?.snapshot.types.get(typeUrl)?.resources;
    const names = [...new Set([...current.keys(), ...applied.keys()])].sort();
    return names.map((name): ResourceReport => {
      const now = current.get(name);
      const held = applied.get(name);
      if (now && refused?.get(name) === now && held?.version !== now.version) {
        return { name, version: held?.version ?? now.version, resource: held, status: 'ERROR', client: 'NACKED', error: { message: this.refused!.message, at: this.refused!.at, version: now.version, resource: now } };
      }
      if (held) return { name, version: held.version, resource: held, status: held.version === now?.version ? 'SYNCED' : 'STALE', client: 'ACKED' };
      return { name, version: now!.version, resource: now, status: 'NOT_SENT', client: 'REQUESTED' };
    });
  }
}
