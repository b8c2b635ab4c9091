// What went wrong with an upstream request, from undici's error codes: Envoy's reset reasons for a
// connect that failed, a connect that timed out, and a connection that closed or reset.
export type UpstreamFailure = 'connect_failure' | 'connect_timeout' | 'reset';

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (typeof code === 'string' && CONNECT_FAILURES.has(code)) return 'connect_failure';
  return 'reset';
}
