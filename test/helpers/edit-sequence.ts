// Model-based edit testing against real Envoy: a seeded sequence of config edits (edit-model.ts), and
// after each one, real Envoy's state must become what `render --node` says that node is served —
// the names of its listeners, routes, clusters and endpoints and the versions the server sent, read
// from Envoy's /config_dump — within a deadline, and traffic must agree: each route's request lands on
// the backend its cluster names and mirrors at 100% reach theirs. All along, a bounded request loop on
// the canary route must see no 5xx and no connection error, and status must never say SYNCED while
// Envoy differs. A failure names the seed and the edits so far.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatDocument } from '../../src/envoy-api/document-format.js';
import { rdsRouteConfigNames } from '../../src/envoy-api/resource-references.js';
import { TypeUrl } from '../../src/envoy-api/type-urls.js';
import { startEnvoy, type RunningEnvoy } from '../../src/sandbox/envoy-process.js';
import { sleep, waitFor } from '../../src/sandbox/wait.js';
import { adsBootstrap } from '../../src/translate/bootstrap.js';
import { translate } from '../../src/translate/resources.js';
import type { ServedTypeUrl } from '../../src/xds/snapshot.js';
import { startControlPlane, type TestControlPlane } from './control-plane.js';
import { initialWorld, nextEdit, renderConfig, routePath, CANARY_ROUTE, type WorldModel } from './edit-model.js';
import { httpGet } from './http-client.js';
import { startLoad } from './load.js';
import { freePort } from './ports.js';
import { startRecordingBackend, type RecordingBackend } from './recording-backend.js';
import { seededRandom } from './seeded-random.js';

export interface EditRunOptions {
  readonly mode: 'sotw' | 'delta';
  readonly edits: number;
  readonly seed: number;
  readonly envoyBin: string;
  /** Envoy's --base-id (distinct per concurrent Envoy). */
  readonly baseId: number;
  /** How long Envoy may take to match an edit. */
  readonly deadlineMs?: number;
}

export interface EditRunResult {
  readonly mode: 'sotw' | 'delta';
  readonly seed: number;
  readonly edits: readonly string[];
  /** Milliseconds from writing each edit to Envoy matching it (config dump and status). */
  readonly convergeMs: readonly number[];
  readonly loadRequests: number;
  readonly loadFailures: readonly string[];
  readonly trafficChecks: number;
}

export class EditSequenceError extends Error {}

const BACKENDS = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'];
const TYPES: readonly ServedTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Runtime];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What Envoy's admin says it runs: dynamic resources by name with the version it got each at. */
interface EnvoyState {
  readonly listeners: ReadonlyMap<string, string>;
  readonly routes: ReadonlyMap<string, string>;
  readonly clusters: ReadonlyMap<string, string>;
  /** Cluster name → its endpoints' addresses (Envoy keeps no version for endpoints). */
  readonly endpoints: ReadonlyMap<string, string>;
  /** Runtime key → the fraction in effect, `numerator/DENOMINATOR`. */
  readonly runtime: ReadonlyMap<string, string>;
  /** Listeners or clusters still warming. */
  readonly warming: readonly string[];
  /** Route configurations only draining listeners (removed ones finishing their connections) still use. */
  readonly draining: ReadonlySet<string>;
}

async function envoyState(adminPort: number): Promise<EnvoyState> {
  const dump = (await (await fetch(`http://127.0.0.1:${adminPort}/config_dump?include_eds`)).json()) as { configs: Json[] };
  const of = (type: string): Json => dump.configs.find((c) => String(c['@type']).endsWith(`.${type}`)) ?? {};
  const listeners = of('ListenersConfigDump');
  const clusters = of('ClustersConfigDump');
  return {
    listeners: new Map(((listeners.dynamic_listeners ?? []) as Json[]).filter((l) => l.active_state).map((l) => [l.name, l.active_state.version_info])),
    routes: new Map(((of('RoutesConfigDump').dynamic_route_configs ?? []) as Json[]).map((r) => [r.route_config.name, r.version_info])),
    clusters: new Map(((clusters.dynamic_active_clusters ?? []) as Json[]).map((c) => [c.cluster.name, c.version_info])),
    endpoints: new Map(((of('EndpointsConfigDump').dynamic_endpoint_configs ?? []) as Json[]).map((e) => [e.endpoint_config.cluster_name, addresses(e.endpoint_config)])),
    runtime: await runtimeFractions(adminPort),
    draining: new Set(((listeners.dynamic_listeners ?? []) as Json[]).filter((l) => l.draining_state && !l.active_state).flatMap((l) => rdsRouteConfigNames(l.draining_state.listener))),
    warming: [
      ...((listeners.dynamic_listeners ?? []) as Json[]).filter((l) => l.warming_state).map((l) => `listener ${l.name}`),
      ...((clusters.dynamic_warming_clusters ?? []) as Json[]).map((c) => `cluster ${c.cluster.name}`),
    ],
  };
}

/** `host:port` of every endpoint of a ClusterLoadAssignment, sorted. */
function addresses(cla: Json): string {
  return ((cla.endpoints ?? []) as Json[])
    .flatMap((e) => (e.lb_endpoints ?? []) as Json[])
    .map((lb) => `${lb.endpoint.address.socket_address.address}:${lb.endpoint.address.socket_address.port_value}`)
    .sort()
    .join(',');
}

/** Envoy prints a runtime Struct value as protobuf text; the FractionalPercent's two fields are all we read. */
async function runtimeFractions(adminPort: number): Promise<Map<string, string>> {
  const rt = (await (await fetch(`http://127.0.0.1:${adminPort}/runtime?format=json`)).json()) as { entries: Record<string, { final_value: string }> };
  return new Map(
    Object.entries(rt.entries).map(([key, e]) => {
      const numerator = /key: "numerator"\s*value \{\s*number_value: (\d+)/.exec(e.final_value)?.[1];
      const denominator = /key: "denominator"\s*value \{\s*string_value: "(\w+)"/.exec(e.final_value)?.[1];
      return [key, `${numerator}/${denominator}`];
    }),
  );
}

export async function runEditSequence(o: EditRunOptions): Promise<EditRunResult> {
  const deadline = o.deadlineMs ?? 10_000;
  const dir = await mkdtemp(path.join(tmpdir(), `shadowplane-edits-${o.mode}-`));
  const backends = new Map<string, RecordingBackend>();
  for (const name of BACKENDS) backends.set(name, await startRecordingBackend(name));
  const ports = Object.fromEntries([...backends].map(([n, b]) => [n, b.port]));
  const nodeId = `edits-${o.mode}`;
  const node = { id: nodeId, cluster: 'test', envoyVersion: undefined, userAgent: '' };
  const world: WorldModel = initialWorld(BACKENDS, await freePort());
  const edits: string[] = [];
  const convergeMs: number[] = [];
  let trafficChecks = 0;
  const fail = (message: string): never => {
    throw new EditSequenceError(`${o.mode} edit sequence, seed ${o.seed}, after edit ${edits.length}: ${message}\nedits:\n${edits.map((e, i) => `  ${i + 1}. ${e}`).join('\n')}`);
  };

  let cp: TestControlPlane | undefined;
  let envoy: RunningEnvoy | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    cp = await startControlPlane(renderConfig(world, ports), { dir });
    const adminPort = await freePort();
    const bootstrapFile = path.join(dir, 'envoy.yaml');
    await writeFile(bootstrapFile, formatDocument(adsBootstrap({ xds: `127.0.0.1:${cp.xdsPort}`, nodeId, nodeCluster: 'test', adminPort, delta: o.mode === 'delta' }), 'yaml'));
    envoy = await startEnvoy(o.envoyBin, { bootstrapFile, adminPort, baseId: o.baseId });
    const record = () => cp!.controlPlane.ads.proxies.list().find((p) => p.node?.id === nodeId);
    // Every type version the server published for this node, with each resource's version in it.
    const sentVersions = new Map<string, Map<string, Map<string, string>>>();
    const remember = (): void => {
      for (const [typeUrl, ts] of cp!.controlPlane.cache.snapshotFor(node)!.types) {
        const byVersion = sentVersions.get(typeUrl) ?? new Map<string, Map<string, string>>();
        byVersion.set(ts.version, new Map([...ts.resources].map(([n, r]) => [n, r.version])));
        sentVersions.set(typeUrl, byVersion);
      }
    };
    remember();
    cp.controlPlane.cache.on('update', remember);

    /** Differences between what Envoy runs and what `render --node` says it is served; empty when equal. */
    const differences = async (): Promise<string[]> => {
      const expected = translate(cp!.controlPlane.model!, node);
      const snapshot = cp!.controlPlane.cache.snapshotFor(node)!;
      const got = await envoyState(adminPort);
      const out: string[] = got.warming.map((w) => `${w} is still warming`);
      const compare = (what: string, typeUrl: ServedTypeUrl, want: readonly string[], have: ReadonlyMap<string, string>): void => {
        const ts = snapshot.types.get(typeUrl)!;
        const missing = want.filter((n) => !have.has(n));
        const extra = [...have.keys()].filter((n) => !want.includes(n) && !(typeUrl === TypeUrl.RouteConfiguration && got.draining.has(n)));
        if (missing.length > 0) out.push(`${what} missing in Envoy: ${missing.join(', ')}`);
        if (extra.length > 0) out.push(`${what} Envoy should not have: ${extra.join(', ')}`);
        for (const n of want) {
          const version = have.get(n);
          if (version === undefined) continue;
          // Delta gives each resource its own version. A SotW response carries the type's version, and
          // Envoy keeps a resource's version from the response that last changed it: that response's
          // content of it must be today's.
          const current = ts.resources.get(n)?.version;
          const held = o.mode === 'delta' ? version : sentVersions.get(typeUrl)?.get(version.replace(/\+\d+$/, ''))?.get(n);
          if (held !== current) out.push(`${what} ${n} at version ${version} (${held ?? 'never sent'}), the server's is ${current}`);
        }
      };
      compare('listener', TypeUrl.Listener, expected.listeners.map((l) => String(l.name)), got.listeners);
      compare('route configuration', TypeUrl.RouteConfiguration, expected.routes.map((r) => String(r.name)), got.routes);
      compare('cluster', TypeUrl.Cluster, expected.clusters.map((c) => String(c.name)), got.clusters);
      const endpoints = snapshot.types.get(TypeUrl.ClusterLoadAssignment)!.resources;
      const wantEndpoints = expected.endpoints.map((e) => String(e.cluster_name));
      const missingEndpoints = wantEndpoints.filter((n) => !got.endpoints.has(n));
      if (missingEndpoints.length > 0) out.push(`endpoints missing in Envoy: ${missingEndpoints.join(', ')}`);
      for (const n of wantEndpoints) {
        const have = got.endpoints.get(n);
        const want = addresses(endpoints.get(n)!.json);
        if (have !== undefined && have !== want) out.push(`endpoints of ${n} are ${have}, the server's are ${want}`);
      }
      const layer = (snapshot.types.get(TypeUrl.Runtime)!.resources.values().next().value?.json.layer ?? {}) as Record<string, { numerator: number; denominator: string }>;
      for (const [key, f] of Object.entries(layer)) {
        const have = got.runtime.get(key);
        if (have !== `${f.numerator}/${f.denominator}`) out.push(`runtime ${key} is ${have ?? 'absent'}, the server's is ${f.numerator}/${f.denominator}`);
      }
      return out;
    };

    /** Waits until Envoy matches and status says SYNCED; meanwhile status must not say SYNCED while Envoy differs. */
    const converge = async (): Promise<void> => {
      const until = Date.now() + deadline;
      let last: string[] = [];
      for (;;) {
        const synced = record()?.synced() ?? false;
        last = await differences();
        if (synced && last.length > 0) {
          // The admin endpoint answers a moment after the ACK: look once more before calling it a lie.
          await sleep(200);
          last = await differences();
          if (last.length > 0 && (record()?.synced() ?? false)) fail(`status says SYNCED while Envoy differs:\n  ${last.join('\n  ')}`);
        }
        if (synced && last.length === 0) return;
        if (Date.now() > until) {
          const states = TYPES.map((t) => `${t.split('.').at(-1)} ${record()?.sync(t).state ?? '?'}${record()?.sync(t).reason ? ` (${record()!.sync(t).reason})` : ''}`);
          fail(`Envoy did not match within ${deadline} ms:\n  ${last.join('\n  ') || '(Envoy matches, but status is not SYNCED)'}\n  status: ${states.join('; ')}`);
        }
        await sleep(50);
      }
    };

    /** Each route served to this node answers from its cluster's backend; 100% mirrors get the copy. */
    const checkTraffic = async (step: number): Promise<void> => {
      const served = new Set(translate(cp!.controlPlane.model!, node).listeners.map((l) => String(l.name)));
      const backendOf = new Map(world.clusters.map((c) => [c.name, c.backend]));
      for (const l of world.listeners.filter((x) => served.has(x.name))) {
        for (const v of l.vhosts) {
          for (const route of v.routes) {
            const tag = `${step}-${route.name}`;
            const host = v.domain === '*' ? 'any.test' : v.domain;
            const res = await httpGet(l.port, `${routePath(route)}x`, { host, 'x-edit-tag': tag }).catch((e: Error) => fail(`GET ${l.name}${routePath(route)}: ${e.message}`));
            const backend = backendOf.get(route.cluster)!;
            if (res.status !== 200 || !res.body.includes(`(${backend})`)) {
              fail(`GET ${l.name}${routePath(route)}x (Host ${host}) answered ${res.status} ${res.body.trim()}, expected ${backend} (cluster ${route.cluster})`);
            }
            trafficChecks++;
            const full = route.mirrors.filter((x) => x.percent === 100);
            for (const m of full) {
              const mirrorBackend = backends.get(backendOf.get(m.cluster)!)!;
              await waitFor(`the copy of ${tag}`, () => mirrorBackend.received.some((x) => x.headers['x-edit-tag'] === tag), 3000).catch(() =>
                fail(`the copy of ${tag} did not reach mirror ${m.cluster} (${mirrorBackend.name})`),
              );
              trafficChecks++;
            }
            // Once a 100% copy has arrived the others were sent with it: a 0% mirror's backend (one no other
            // target of this route uses) must have none. Without a 100% copy to wait for, this is not cheap.
            if (full.length === 0) continue;
            const sharedBackends = new Set([backend, ...route.mirrors.filter((x) => x.percent > 0).map((x) => backendOf.get(x.cluster)!)]);
            for (const m of route.mirrors.filter((x) => x.percent === 0 && !sharedBackends.has(backendOf.get(x.cluster)!))) {
              const zero = backends.get(backendOf.get(m.cluster)!)!;
              if (zero.received.some((x) => x.headers['x-edit-tag'] === tag)) fail(`mirror ${m.cluster} at 0% got the copy of ${tag} (${zero.name})`);
              trafficChecks++;
            }
          }
        }
      }
    };

    await converge();
    const canary = world.listeners[0]!;
    load = startLoad({ port: canary.port, path: `/r/${CANARY_ROUTE}/load`, headers: { host: 'load.test' }, concurrency: 2, maxMs: 30 * 60_000, maxRequests: 10_000_000 });
    const r = seededRandom(o.seed);
    let text = renderConfig(world, ports);
    const ctx = { backends: BACKENDS, port: freePort, nodeIds: [nodeId, 'someone-else'] };
    // `o.edits` edits that change the config are applied; one that changes nothing ("already there") does not count.
    for (let i = 1; convergeMs.length < o.edits; i++) {
      if (i > 3 * o.edits) fail(`only ${convergeMs.length} of ${i - 1} generated edits changed the config`);
      edits.push(await nextEdit(world, r, ctx, i));
      const next = renderConfig(world, ports);
      if (next === text) continue;
      text = next;
      const version = cp.controlPlane.cache.configVersion;
      const rejectedBefore = cp.controlPlane.lastRejected;
      const started = Date.now();
      await cp.edit(text);
      await waitFor(`edit ${i} published`, () => cp!.controlPlane.cache.configVersion > version || cp!.controlPlane.lastRejected !== rejectedBefore, 5000);
      if (cp.controlPlane.lastRejected !== rejectedBefore) fail(`the generated config was rejected: ${cp.controlPlane.lastRejected!.problems.join('; ')}\n${text}`);
      await converge();
      convergeMs.push(Date.now() - started);
      await checkTraffic(i);
    }
    const result = await load.stop();
    load = undefined;
    if (result.failures.length > 0) fail(`${result.failures.length} of ${result.sent} canary requests failed: ${[...new Set(result.failures)].slice(0, 5).join('; ')}`);
    return { mode: o.mode, seed: o.seed, edits, convergeMs, loadRequests: result.sent, loadFailures: result.failures, trafficChecks };
  } catch (e) {
    // Whatever went wrong (a publish that timed out, Envoy's admin not answering), say where in the
    // sequence, so the seed and the edits reproduce it.
    if (e instanceof EditSequenceError) throw e;
    return fail(e instanceof Error ? e.message : String(e));
  } finally {
    await load?.stop();
    await envoy?.stop();
    await cp?.stop();
    for (const b of backends.values()) await b.close();
    await rm(dir, { recursive: true, force: true });
  }
}
