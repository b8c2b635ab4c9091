import type { Logger } from 'pino';
import type { ProxyRecord } from './proxy-status.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { XdsMetrics } from './xds-metrics.js';
import { TYPE_SHORT_NAMES, type ServedTypeUrl, PUSH_ORDER } from './snapshot.js';

/** What a stream's protocol state machine needs from the server around it. */
export interface StreamContext {
  readonly cache: SnapshotCache;
  readonly record: ProxyRecord;
  readonly metrics: XdsMetrics;
  readonly logger: Logger;
  send(bytes: Buffer): void;
}

export function isServedType(typeUrl: string): typeUrl is ServedTypeUrl {
  return (PUSH_ORDER as readonly string[]).includes(typeUrl);
}

export function shortType(typeUrl: ServedTypeUrl): string {
  return TYPE_SHORT_NAMES[typeUrl];
}

/** Records an ACK and, the first time a proxy acknowledges the current config version, its latency. */
export function recordAck(ctx: StreamContext, typeUrl: ServedTypeUrl, version: string, configVersion: number | undefined): void {
  const t = ctx.record.type(typeUrl);
  const firstAckOfVersion = t.ackedConfigVersion !== configVersion;
  t.ackedVersion = version;
  t.ackedConfigVersion = configVersion;
  t.ackedAt = new Date().toISOString();
  ctx.metrics.forType(shortType(typeUrl)).acks.inc();
  if (firstAckOfVersion && configVersion === ctx.cache.configVersion) {
    ctx.metrics.forType(shortType(typeUrl)).changeToAck.observe((Date.now() - ctx.cache.publishedAtMs) / 1000);
  }
}

export function recordNack(ctx: StreamContext, typeUrl: ServedTypeUrl, version: string, message: string): void {
  ctx.record.type(typeUrl).lastNack = { version, message, at: new Date().toISOString() };
  ctx.metrics.forType(shortType(typeUrl)).nacks.inc();
  ctx.logger.warn({ node: ctx.record.node?.id, type: shortType(typeUrl), version, error: message }, 'proxy rejected config (NACK); not re-sending it');
}

export function recordSend(ctx: StreamContext, typeUrl: ServedTypeUrl, version: string, configVersion: number, bytes: number): void {
  const t = ctx.record.type(typeUrl);
  t.sentVersion = version;
  t.sentConfigVersion = configVersion;
  const m = ctx.metrics.forType(shortType(typeUrl));
  m.pushes.inc();
  m.pushBytes.inc(bytes);
}
