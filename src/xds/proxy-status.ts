// What each connected proxy has been sent, has acknowledged and has rejected, per resource type, and
// the sync state of each type: the data behind /status, CSDS and `shadowplane status` (like
// `istioctl proxy-status`). The state comes from the stream itself (xds-stream.ts), derived from what
// the proxy holds against the current snapshot, so it cannot say SYNCED for content not yet acknowledged.
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import type { EncodedResource } from './encoded-resource.js';
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

/**
 * SYNCED: the proxy acknowledged exactly the current content of the type. PENDING: a response is on the
 * wire, not yet acknowledged. STALE: what is current has not been sent (the reason says what it waits
 * for). NACKED: the proxy rejected the current content (the reason is its message).
 */
export type SyncState = 'SYNCED' | 'PENDING' | 'STALE' | 'NACKED';

export interface TypeSync {
  readonly state: SyncState;
  readonly reason?: string;
}

/** One resource of one proxy, as CSDS reports it (envoy.service.status.v3 ConfigStatus / ClientResourceStatus). */
export interface ResourceReport {
  readonly name: string;
  /** The version the proxy holds, or the current one when it holds none. */
  readonly version: string;
  /** The resource as the proxy holds it (or as it is current), when this server has it. */
  readonly resource: EncodedResource | undefined;
  readonly status: 'SYNCED' | 'STALE' | 'NOT_SENT' | 'ERROR';
  readonly client: 'REQUESTED' | 'DOES_NOT_EXIST' | 'ACKED' | 'NACKED';
  readonly error?: { readonly message: string; readonly at: string; readonly version: string; readonly resource: EncodedResource | undefined };
}

/** The source of a proxy's per-type sync state: its ADS stream, or the built-in data plane. */
export interface SyncView {
  requestedTypes(): ServedTypeUrl[];
  sync(typeUrl: ServedTypeUrl): TypeSync;
  resources(typeUrl: ServedTypeUrl): ResourceReport[];
}

export type ProxyProtocol = 'sotw' | 'delta' | 'builtin';

export class ProxyRecord {
  private boundNode: NodeInfo | undefined;
  private bound = false;
  readonly connectedSince = new Date().toISOString();
  readonly types = new Map<ServedTypeUrl, TypeStatus>();
  warnings: readonly string[] = [];
  view: SyncView | undefined;

  constructor(
    readonly streamId: number,
    readonly protocol: ProxyProtocol,
    readonly peer: string,
  ) {}

  /** The node the stream's first request named: what the stream is served, for its whole life. */
  get node(): NodeInfo | undefined {
    return this.boundNode;
  }

  bindNode(node: NodeInfo | undefined): void {
    if (this.bound) throw new Error(`stream ${this.streamId} is already bound to node "${this.boundNode?.id ?? ''}"`);
    this.bound = true;
    this.boundNode = node;
  }

  type(typeUrl: ServedTypeUrl): TypeStatus {
    let t = this.types.get(typeUrl);
    if (!t) {
      t = { sentVersion: undefined, sentConfigVersion: undefined, ackedVersion: undefined, ackedConfigVersion: undefined, ackedAt: undefined, lastNack: undefined };
      this.types.set(typeUrl, t);
    }
    return t;
  }

  sync(typeUrl: ServedTypeUrl): TypeSync {
    return this.view?.sync(typeUrl) ?? { state: 'STALE', reason: 'the proxy has not asked for anything yet' };
  }

  /** Every type the proxy asked for is SYNCED (and it asked for something). */
  synced(): boolean {
    const types = this.view?.requestedTypes() ?? [];
    return types.length > 0 && types.every((t) => this.sync(t).state === 'SYNCED');
  }

  toJSON(): object {
    const types: Record<string, object> = {};
    for (const url of this.view?.requestedTypes() ?? []) {
      const t = this.types.get(url);
      types[TYPE_SHORT_NAMES[url]] = { ...this.sync(url), ...t };
    }
    return {
      streamId: this.streamId,
      nodeId: this.node?.id ?? '',
      nodeCluster: this.node?.cluster ?? '',
      envoyVersion: this.node?.envoyVersion ?? null,
      userAgent: this.node?.userAgent ?? '',
      protocol: this.protocol,
      peer: this.peer,
      connectedSince: this.connectedSince,
      synced: this.synced(),
      types,
      warnings: this.warnings,
    };
  }
}

export class ProxyRegistry {
  private readonly records = new Map<number, ProxyRecord>();
  private nextId = 1;

  open(protocol: ProxyProtocol, peer: string): ProxyRecord {
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
