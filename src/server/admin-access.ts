// Who may use the admin endpoint. Writes (PUT /config) need the write token. Reads (/status,
// /config_dump, /metrics, /mirror_diffs, /mirror_stats) need the read token or the write token once a
// read token is set, and always on an address beyond loopback, which is refused outright without any
// token unless the operator says `--admin-insecure-no-token`. Health, readiness and the status page's
// static files stay open (probes and the page itself carry no data). Tokens are compared as SHA-256
// digests with timingSafeEqual, so neither their content nor their length shows in the timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export interface AdminAccessOptions {
  /** Bearer token for writes; undefined refuses them. */
  readonly writeToken?: string | undefined;
  /** Bearer token for reads (the write token works too). */
  readonly readToken?: string | undefined;
  /** Serve an address beyond loopback without any token. */
  readonly insecureNoToken?: boolean | undefined;
}

/** An admin address beyond loopback with no token: refused before anything binds. */
export class InsecureAdminError extends Error {
  override name = 'InsecureAdminError';
  constructor(readonly address: string) {
    super(
      `refusing to serve the admin endpoint on ${address}, beyond loopback, without a token: set a read token (--admin-read-token-file or SHADOWPLANE_ADMIN_READ_TOKEN) and/or a write token (--admin-token-file or SHADOWPLANE_ADMIN_TOKEN), or pass --admin-insecure-no-token`,
    );
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function bearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

export type WriteAccess = 'allowed' | 'disabled' | 'denied';

export class AdminAccess {
  private readonly write: Buffer | undefined;
  private readonly read: readonly Buffer[];

  /** Throws InsecureAdminError for an address beyond loopback with no token and no override. */
  constructor(host: string, port: number, o: AdminAccessOptions) {
    const loopback = isLoopbackHost(host);
    if (!loopback && !o.readToken && !o.writeToken && !o.insecureNoToken) throw new InsecureAdminError(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    this.write = o.writeToken ? digest(o.writeToken) : undefined;
    const readers = o.readToken || !loopback ? [o.readToken, o.writeToken] : [];
    this.read = readers.filter((t): t is string => !!t).map(digest);
  }

  /** True when reads need a token. */
  get readsGuarded(): boolean {
    return this.read.length > 0;
  }

  canRead(authorization: string | undefined): boolean {
    if (this.read.length === 0) return true;
    const given = bearer(authorization);
    if (given === undefined) return false;
    const d = digest(given);
    // Every token is compared, so which one matched does not show either.
    return this.read.map((t) => timingSafeEqual(d, t)).includes(true);
  }

  canWrite(authorization: string | undefined): WriteAccess {
    if (!this.write) return 'disabled';
    const given = bearer(authorization);
    return given !== undefined && timingSafeEqual(digest(given), this.write) ? 'allowed' : 'denied';
  }
}
