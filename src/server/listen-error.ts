// A port the server could not bind, as one line for the operator rather than a stack trace.

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (another process holds it; pick another port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this machine',
};

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    readonly what: string,
    readonly address: string,
    cause: unknown,
  ) {
    const text = (cause as Error)?.message ?? String(cause);
    const code = (cause as NodeJS.ErrnoException)?.code ?? /\b(E[A-Z]+)\b/.exec(text)?.[1];
    super(`cannot listen on ${address} for ${what}: ${(code && REASONS[code]) ?? text}`, { cause });
  }
}
