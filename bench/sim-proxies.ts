// Simulated proxies for the push fan-out benchmark, in a process of their own so that their work is
// not counted as the server's: each holds ADS streams that subscribe and ACK as Envoy does (wildcard
// CDS and LDS, then EDS and RDS by the names those carry, and the RTDS layer), on a connection of its
// own per proxy as real Envoys have, or all on one shared connection. Driven over IPC by fanout.ts:
//   { start } → { ready }   every stream holds endpoints
//   { arm }   → { armed }   remember how many endpoint responses each stream has had
//   { collect } → { times } wait until every stream has had one more; report when each arrived
import * as grpc from '@grpc/grpc-js';
import { decodeTyped } from '../src/envoy-api/proto-json.js';
import { RTDS_LAYER_NAME } from '../src/envoy-api/metadata.js';
import { resourceReferences } from '../src/envoy-api/resource-references.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import { DeltaClient } from '../src/xds-client/delta-client.js';

export type Mode = 'sotw' | 'delta';
export type Connection = 'per-proxy' | 'shared';

export interface StartMessage {
  readonly cmd: 'start';
  readonly target: string;
  readonly mode: Mode;
  readonly connection: Connection;
  /** Node ids `sim-<first>` … `sim-<first+count-1>`. */
  readonly first: number;
  readonly count: number;
}

export type ParentMessage = StartMessage | { readonly cmd: 'arm' } | { readonly cmd: 'collect'; readonly timeoutMs: number } | { readonly cmd: 'stop' };

export type ChildMessage =
  | { readonly ready: number }
  | { readonly armed: true }
  /**
   * Wall-clock ms (performance.timeOrigin + now) at which each stream got its first endpoints after
   * `arm`, and the resource bytes every stream received since `arm`.
   */
  | { readonly times: readonly number[]; readonly bytes: number }
  | { readonly error: string };

/** Milliseconds on a clock every process on the machine shares. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

type Values = ReadonlyArray<{ typeUrl: string; value: Uint8Array }>;
const decode = (values: Values) => values.map((v) => decodeTyped(v.typeUrl, v.value));
const edsNames = (values: Values): readonly string[] => resourceReferences({ clusters: decode(values) }).endpoints;
const rdsNames = (values: Values): readonly string[] => resourceReferences({ listeners: decode(values) }).routes;

class SimProxy {
  /** Endpoint (EDS) responses received so far, and when the first after `arm` came. */
  eds = 0;
  armedAt = 0;
  firstAfterArm = 0;
  /** Bytes of the resources received since `arm` (what either server must send; the same measure for both). */
  bytes = 0;
  private readonly close: () => void;

  constructor(target: string, id: string, mode: Mode, channelOptions: grpc.ChannelOptions) {
    const node = { id, cluster: 'bench' };
    const onEds = (): void => {
      this.eds++;
      if (this.eds === this.armedAt + 1) this.firstAfterArm = wallMs();
    };
    const count = (resources: ReadonlyArray<{ value: Uint8Array }>): void => {
      for (const r of resources) this.bytes += r.value.length;
    };
    if (mode === 'sotw') {
      const c: AdsClient = new AdsClient({
        target,
        node,
        channelOptions,
        onResponse: (r) => {
          count(r.resources);
          if (r.typeUrl === TypeUrl.Cluster) queueMicrotask(() => c.subscribe(TypeUrl.ClusterLoadAssignment, edsNames(r.resources)));
          if (r.typeUrl === TypeUrl.Listener) queueMicrotask(() => c.subscribe(TypeUrl.RouteConfiguration, rdsNames(r.resources)));
          if (r.typeUrl === TypeUrl.ClusterLoadAssignment) onEds();
          return undefined;
        },
      });
      c.start();
      c.subscribe(TypeUrl.Runtime, [RTDS_LAYER_NAME]);
      c.subscribe(TypeUrl.Cluster, []);
      c.subscribe(TypeUrl.Listener, []);
      this.close = () => c.close();
    } else {
      const c: DeltaClient = new DeltaClient(target, node, (r) => {
        count(r.resources);
        if (r.typeUrl === TypeUrl.Cluster && r.resources.length > 0) c.subscribe(TypeUrl.ClusterLoadAssignment, edsNames(r.resources));
        if (r.typeUrl === TypeUrl.Listener && r.resources.length > 0) c.subscribe(TypeUrl.RouteConfiguration, rdsNames(r.resources));
        if (r.typeUrl === TypeUrl.ClusterLoadAssignment) onEds();
      }, channelOptions);
      c.start();
      c.subscribe(TypeUrl.Runtime, [RTDS_LAYER_NAME]);
      c.subscribe(TypeUrl.Cluster, []);
      c.subscribe(TypeUrl.Listener, []);
      this.close = () => c.close();
    }
  }

  arm(): void {
    this.armedAt = this.eds;
    this.firstAfterArm = 0;
    this.bytes = 0;
  }

  stop(): void {
    this.close();
  }
}

const send = (m: ChildMessage): void => void process.send!(m);
let sims: SimProxy[] = [];

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function handle(m: ParentMessage): Promise<void> {
  if (m.cmd === 'start') {
    // grpc-js shares one connection among channels to the same target unless each has its own
    // subchannel pool; a real Envoy has a connection of its own.
    const options: grpc.ChannelOptions = m.connection === 'per-proxy' ? { 'grpc.use_local_subchannel_pool': 1 } : {};
    for (let i = 0; i < m.count; i++) {
      sims.push(new SimProxy(m.target, `sim-${m.first + i}`, m.mode, options));
      // Connecting thousands at once only makes the server's accept queue overflow.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => sims.every((s) => s.eds > 0), 300_000, 'every simulated proxy to hold endpoints');
    send({ ready: sims.length });
  } else if (m.cmd === 'arm') {
    for (const s of sims) s.arm();
    send({ armed: true });
  } else if (m.cmd === 'collect') {
    await until(() => sims.every((s) => s.firstAfterArm > 0), m.timeoutMs, 'every simulated proxy to get the edit');
    // Whatever else the edit brings (an ACK's follow-up) has come by the time the last endpoints have.
    send({ times: sims.map((s) => s.firstAfterArm), bytes: sims.reduce((a, s) => a + s.bytes, 0) });
  } else {
    for (const s of sims) s.stop();
    sims = [];
    process.exit(0);
  }
}

process.on('message', (m: ParentMessage) => {
  handle(m).catch((e: unknown) => send({ error: (e as Error).message }));
});
