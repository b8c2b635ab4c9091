// The imported-format tests' two targets: a control plane serving a folder of Gateway API, Istio or
// APISIX documents to a real Envoy over ADS, and another serving the same documents to its built-in
// data plane. Each target has its own listener ports (both bind loopback), so the documents are
// written per target from a function of the ports.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LoadOptions } from '../../src/config/load.js';
import { formatDocument } from '../../src/envoy-api/document-format.js';
import { TypeUrl } from '../../src/envoy-api/type-urls.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../../src/sandbox/envoy-process.js';
import { waitFor } from '../../src/sandbox/wait.js';
import { adsBootstrap } from '../../src/translate/bootstrap.js';
import { startControlPlane, type ConfigFiles, type TestControlPlane } from './control-plane.js';
import { freePort } from './ports.js';

export type Ports = Readonly<Record<string, number>>;

export interface ImportTarget {
  readonly name: 'envoy' | 'engine';
  readonly cp: TestControlPlane;
  /** This target's port for each listener name. */
  readonly ports: Ports;
}

export interface ImportTargets {
  readonly targets: readonly ImportTarget[];
  /**
   * Runs `run` on each target and checks each result; unless `statistical`, the engine's result must
   * equal Envoy's too (as in test/conformance.test.ts).
   */
  onEach<T>(run: (x: ImportTarget) => Promise<T>, check: (o: T) => void, statistical?: boolean): Promise<void>;
  /** Rewrites one file of every target's folder (each with its own ports). */
  edit(name: string, text: (ports: Ports) => string): Promise<void>;
  close(): Promise<void>;
}

export interface ImportTargetsOptions {
  /** Listener names: each target gets a free port for each. */
  readonly listeners: readonly string[];
  readonly files: (ports: Ports) => ConfigFiles;
  /** Load options per target (its --listen-address, say); default: imported listeners bind 127.0.0.1. */
  readonly load?: (ports: Ports) => LoadOptions;
  /** Envoy's base id, distinct per test file. */
  readonly baseId: number;
}

/** Every resource type acknowledged at the version being served. */
function envoySynced(cp: TestControlPlane, nodeId: string): boolean {
  const p = cp.controlPlane.ads.proxies.list().find((x) => x.node?.id === nodeId);
  if (!p) return false;
  return [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration].every((t) => p.sync(t).state === 'SYNCED');
}

async function allocate(names: readonly string[]): Promise<Ports> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = await freePort();
  return out;
}

/** Starts the engine target, and the Envoy target when Envoy is installed (tests call requireEnvoy). */
export async function startImportTargets(o: ImportTargetsOptions): Promise<ImportTargets> {
  const load = o.load ?? (() => ({ listen: { host: '127.0.0.1', port: undefined } }));
  const targets: ImportTarget[] = [];
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const enginePorts = await allocate(o.listeners);
    const engine = await startControlPlane(o.files(enginePorts), { dataPlane: 'builtin', load: load(enginePorts) });
    closers.push(() => engine.stop());
    targets.push({ name: 'engine', cp: engine, ports: enginePorts });
    const bin = findEnvoy();
    if (bin) {
      const envoyPorts = await allocate(o.listeners);
      const xdsPort = await freePort();
      const cp = await startControlPlane(o.files(envoyPorts), { xdsPort, load: load(envoyPorts) });
      closers.push(() => cp.stop());
      const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-import-envoy-'));
      closers.push(() => rm(dir, { recursive: true, force: true }));
      const admin = await freePort();
      const file = path.join(dir, 'bootstrap.yaml');
      await writeFile(file, formatDocument(adsBootstrap({ xds: `127.0.0.1:${xdsPort}`, nodeId: 'front-1', nodeCluster: 'test', adminPort: admin, delta: false }), 'yaml'));
      const envoy: RunningEnvoy = await startEnvoy(bin, { bootstrapFile: file, adminPort: admin, baseId: o.baseId, logLevel: 'warning' });
      closers.push(() => envoy.stop());
      await waitFor('Envoy SYNCED', () => envoySynced(cp, 'front-1'), 20_000);
      targets.unshift({ name: 'envoy', cp, ports: envoyPorts });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    targets,
    async onEach(run, check, statistical = false) {
      const seen = new Map<string, unknown>();
      for (const x of targets) {
        const o = await run(x);
        seen.set(x.name, o);
        try {
          check(o);
        } catch (e) {
          if (e instanceof Error) e.message = `[${x.name}] ${e.message}`;
          throw e;
        }
      }
      if (!statistical && seen.size === 2) assert.deepEqual(seen.get('engine'), seen.get('envoy'));
    },
    async edit(name, text) {
      for (const t of targets) {
        const before = t.cp.controlPlane.cache.configVersion;
        await t.cp.edit(text(t.ports), name);
        await waitFor(`${t.name}: ${name} applied`, () => t.cp.controlPlane.cache.configVersion > before || t.cp.controlPlane.lastRejected !== undefined);
        if (t.name === 'envoy') await waitFor('Envoy SYNCED', () => envoySynced(t.cp, 'front-1'));
      }
    },
    close,
  };
}
