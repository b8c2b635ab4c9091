// What each connected proxy has been sent, has acknowledged and has rejected, per resource type:
// the data behind /status and `shadowplane status` (like `istioctl proxy-status`).
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { TYPE_SHORT_NAMES, type ServedTypeUrl } from './snapshot.js';

export interface Nack {
  readonly version: string;
  readonly message: string;
  readonly at: string;
}

export interface TypeStatus {
  sentVersion: string | undefined;
  sentConfigVersion: number | undefined;
  ackedVersion: string | undefined;
  ackedConfigVersion: number | undefined;
  /** When the proxy last acknowledged this type (ISO 8601). */
  ackedAt: string | undefined;
  lastNack: Nack | undefined;
}

export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT';

export class ProxyRecord {
  node: NodeInfo | undefined;
  readonly connectedSince = new Date().toISOString();
  readonly types = new Map<ServedTypeUrl, TypeStatus>();
  warnings: readonly string[] = [];

  constructor(
    readonly streamId: number,
    readonly protocol: 'sotw' | 'delta',
    readonly peer: string,
  ) {}

  type(typeUrl: ServedTypeUrl): TypeStatus {
    let t = this.types.get(typeUrl);
    if (!t) {
      t = { sentVersion: undefined, sentConfigVersion: undefined, ackedVersion: undefined, ackedConfigVersion: undefined, ackedAt: undefined, lastNack: undefined };
      this.types.set(typeUrl, t);
    }
    return t;
  }

  /** One state per type: NACKED when the version it holds was rejected, SYNCED when acknowledged. */
  state(t: TypeStatus): SyncState {
    if (t.sentVersion === undefined) return 'NOT SENT';
    if (t.lastNack && t.lastNack.version === t.sentVersion) return 'NACKED';
    return t.ackedVersion === t.sentVersion ? 'SYNCED' : 'STALE';
  }

  toJSON(): object {
    const types: Record<string, object> = {};
    for (const [url, t] of this.types) types[TYPE_SHORT_NAMES[url]] = { state: this.state(t), ...t };
    return {
      streamId: this.streamId,
      nodeId: this.node?.id ?? '',
      nodeCluster: this.node?.cluster ?? '',
      envoyVersion: this.node?.envoyVersion ?? null,
      userAgent: this.node?.userAgent ?? '',
      protocol: this.protocol,
      peer: this.peer,
      connectedSince: this.connectedSince,
      types,
      warnings: this.warnings,
    };
  }
}

export class ProxyRegistry {
  private readonly records = new Map<number, ProxyRecord>();
  private nextId = 1;

  open(protocol: 'sotw' | 'delta', peer: string): ProxyRecord {
    const r = new ProxyRecord(this.nextId++, protocol, peer);
    this.records.set(r.streamId, r);
    return r;
  }

  close(r: ProxyRecord): void {
    this.records.delete(r.streamId);
  }

  list(): ProxyRecord[] {
    return [...this.records.values()];
  }

  get size(): number {
    return this.records.size;
  }
}
