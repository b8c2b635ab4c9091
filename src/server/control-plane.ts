// The control plane's moving parts in one place: the config source (a file, a folder, or an etcd
// key shared by replicas), the snapshot cache the ADS server reads, and the record of what was
// accepted or rejected and why.
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { AcceptedConfig, ConfigSource } from '../config/config-source.js';
import type { LoadOptions } from '../config/load.js';
import { openConfigSource } from '../config/open-config-source.js';
import { formatProblem, ProblemCode, type ConfigProblem } from '../config/problems.js';
import { ModelBuilder } from '../model/build.js';
import type { Model } from '../model/types.js';
import { AdsServer, type AdsServerOptions } from '../xds/ads-server.js';
import { InconsistentSnapshotError, SnapshotCache } from '../xds/snapshot-cache.js';
import { ListenError } from './listen-error.js';
import { createXdsMetrics, type XdsMetrics } from '../xds/xds-metrics.js';

export interface ConfigEvent {
  readonly at: string;
  readonly reason: string;
  readonly configVersion?: number;
  readonly problems: readonly string[];
}

export interface ControlPlaneOptions {
  /** A config file, a folder of files read as one config, or an etcd:// URL naming a key. */
  readonly configFile: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /** How the config is read: --from and --listen-address for imported formats. */
  readonly load?: LoadOptions;
  /** TLS for the xDS port and, with mutual TLS, the node identity check; plaintext without. */
  readonly xdsSecurity?: Pick<AdsServerOptions, 'credentials' | 'nodeIdentity'>;
}

export class ControlPlane {
  readonly cache = new SnapshotCache();
  readonly source: ConfigSource;
  readonly metrics: XdsMetrics;
  readonly ads: AdsServer;
  model: Model | undefined;
  /** Keeps the model's unchanged parts from one version to the next. */
  private readonly models = new ModelBuilder();
  lastAccepted: ConfigEvent | undefined;
  lastRejected: ConfigEvent | undefined;
  private readonly log: Logger;

  constructor(o: ControlPlaneOptions) {
    this.log = o.logger;
    this.metrics = createXdsMetrics(o.registry);
    this.ads = new AdsServer({ cache: this.cache, metrics: this.metrics, logger: o.logger.child({ component: 'ads' }), ...o.xdsSecurity });
    this.source = openConfigSource(o.configFile, (c) => this.publish(c), o.load);
    // 1 while the config store answers, 0 while it does not; absent for a file.
    const storeUp = this.source.status().store ? new Gauge({ name: 'shadowplane_config_store_up', help: 'Whether the config store (etcd) answers', registers: [o.registry] }) : undefined;
    this.source.on('store', (h) => {
      storeUp?.set(h.state === 'up' ? 1 : 0);
      const serving = this.cache.configVersion || null;
      if (h.state === 'down') this.log.error({ source: this.source.location, error: h.error, serving }, `config store down: ${serving === null ? 'nothing is served until it answers' : `version ${serving} keeps being served`}; writes fail until it is back`);
      else this.log.info({ source: this.source.location }, 'config store up');
    });
    this.source.on('rejected', (problems, reason) => {
      this.lastRejected = { at: new Date().toISOString(), reason, problems: problems.map(formatProblem) };
      this.metrics.configVersions.inc({ result: 'rejected' });
      const serving = this.cache.configVersion || null;
      const consequence = serving === null ? 'nothing is served until a valid config loads' : `version ${serving} keeps being served`;
      this.log.error({ reason, problems: this.lastRejected.problems, serving }, `config rejected; ${consequence}`);
    });
    // Undoing a rejected edit (the file back to the config being served) settles it as an accepted edit would.
    this.source.on('unchanged', (reason) => {
      if (!this.rejectedSinceAccepted || !this.lastAccepted) return;
      this.lastAccepted = { ...this.lastAccepted, at: new Date().toISOString(), reason: `${reason}: back to the config being served` };
      this.log.info({ configVersion: this.cache.configVersion, reason }, 'the config is back to the version being served; the rejected edit is settled');
    });
  }

  /** The last rejected edit is news until a later edit is accepted, or undone. */
  get rejectedSinceAccepted(): boolean {
    const rejected = this.lastRejected;
    return rejected !== undefined && (this.lastAccepted === undefined || rejected.at >= this.lastAccepted.at);
  }

  /** Builds the model and publishes it; problems mean it was not applied. */
  private publish(c: AcceptedConfig): readonly ConfigProblem[] {
    const model = this.models.build(c.config);
    let version: number;
    try {
      version = c.revision === undefined ? this.cache.publish(model, c.hash) : this.cache.publish(model, String(c.revision), c.revision);
    } catch (e) {
      if (!(e instanceof InconsistentSnapshotError)) throw e;
      return e.problems.map((message) => ({
        code: ProblemCode.INCONSISTENT_RESOURCES,
        severity: 'error' as const,
        file: this.source.location,
        line: 0,
        col: 0,
        path: [],
        message,
      }));
    }
    this.model = model;
    // When it was published, before it went out to every stream.
    this.lastAccepted = { at: new Date(this.cache.publishedAtMs).toISOString(), reason: c.reason, configVersion: version, problems: c.warnings.map(formatProblem) };
    this.metrics.configVersions.inc({ result: 'accepted' });
    for (const w of this.lastAccepted.problems) this.log.warn(w);
    this.log.info({ configVersion: version, reason: c.reason, minEnvoyVersion: model.minEnvoyVersion ?? null }, 'config version published');
    return [];
  }

  /** Reads the config once; resolves false (after logging every problem) when a file is not valid. */
  async start(o: { xds: string; watch: boolean }): Promise<boolean> {
    if (!(await this.source.start())) return false;
    await this.ads.listen(o.xds).catch(async (e: unknown) => {
      await this.source.close();
      throw new ListenError('xDS', o.xds, e);
    });
    if (o.watch) this.source.watch();
    return true;
  }

  async close(): Promise<void> {
    await this.source.close();
    await this.ads.close();
  }
}
