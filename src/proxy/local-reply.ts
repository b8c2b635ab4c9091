// Responses the data path makes itself, with Envoy's status codes and bodies (observed on Envoy 1.40).
import type { ServerResponse } from 'node:http';

const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason:';

const LOCAL_REPLIES = {
  /** No virtual host or route matched (Envoy's NR flag). */
  no_route: { status: 404, body: '' },
  /** The route names a cluster that does not exist (NC). */
  cluster_not_found: { status: 503, body: '' },
  /** The cluster has no endpoints (UH). */
  no_healthy_upstream: { status: 503, body: 'no healthy upstream' },
  /** The cluster's circuit breaker is full (UO). */
  overflow: { status: 503, body: `${RESET_BEFORE_HEADERS} overflow` },
  connect_failure: { status: 503, body: `${RESET_BEFORE_HEADERS} remote connection failure` },
  connect_timeout: { status: 503, body: `${RESET_BEFORE_HEADERS} connection timeout` },
  upstream_reset: { status: 503, body: `${RESET_BEFORE_HEADERS} connection termination` },
  /** The route timeout fired before the response started (UT). */
  timeout: { status: 504, body: 'upstream request timeout' },
  max_stream_duration: { status: 504, body: 'upstream max stream duration reached' },
  /** HTTP/1.0 is refused unless the connection manager accepts it. */
  http10: { status: 426, body: 'Upgrade Required' },
  bad_request: { status: 400, body: '' },
  /** Upgrades (WebSocket, …) are not configured on the connection manager. */
  upgrade: { status: 403, body: '' },
} as const satisfies Record<string, { status: number; body: string }>;

export type LocalReplyReason = keyof typeof LOCAL_REPLIES;

export interface LocalReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function localReply(reason: LocalReplyReason): LocalReply {
  const { status, body } = LOCAL_REPLIES[reason];
  const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
  if (body !== '') headers['content-type'] = 'text/plain';
  if (reason === 'overflow') headers['x-envoy-overloaded'] = 'true';
  return { status, headers, body };
}

/** Sends the reply, or resets the stream when the response has already started (as Envoy does). */
export function sendLocalReply(res: ServerResponse, reason: LocalReplyReason): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const reply = localReply(reason);
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}
