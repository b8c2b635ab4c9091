// `shadowplane status`: the proxies a control plane serves, one line each, like `istioctl proxy-status`;
// with --wait, a rollout check like `kubectl rollout status`: it returns once every connected proxy
// holds the current config of every type, and fails on a NACK or at the timeout, saying who is behind and why.
// An admin over HTTPS is verified with --admin-ca; reads that need a token get --admin-token-file's.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { DURATION_RE } from '../config/schema.js';
import { durationToMs } from '../model/build.js';
import { sleep } from '../sandbox/wait.js';
import { UsageError, type Io } from './output.js';
import { readToken } from './secrets.js';
import { ADMIN_READ_TOKEN_ENV, ADMIN_TOKEN_ENV } from './serve.js';

interface TypeJson {
  state: string;
  reason?: string;
  lastNack?: { version: string; message: string; at: string };
}
interface ProxyJson {
  nodeId: string;
  nodeCluster: string;
  envoyVersion: string | null;
  protocol: string;
  /** The config version it has acknowledged as a whole; null before it holds some type. */
  ackedConfigVersion?: number | null;
  connectedSince: string;
  synced: boolean;
  types: Record<string, TypeJson>;
  warnings: string[];
}
interface StatusJson {
  configFile: string;
  source?: { kind: string; location: string; store?: { state: 'up' | 'down'; since: string; error?: string } };
  configVersion: number;
  configChanging?: boolean;
  lastAccepted: { at: string; reason: string } | null;
  lastRejected: { at: string; reason: string; problems: string[] } | null;
  rejectedSinceAccepted?: boolean;
  proxies: ProxyJson[];
}

const TYPES = ['CDS', 'EDS', 'LDS', 'RDS', 'RTDS'] as const;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** Every type not SYNCED, with why: `front-1 RDS PENDING: version … sent; waiting for the proxy's ACK`. */
function behind(s: StatusJson): string[] {
  return s.proxies.flatMap((p) =>
    TYPES.flatMap((t) => {
      const ts = p.types[t];
      if (!ts || ts.state === 'SYNCED') return [];
      return [`${p.nodeId} ${t} ${ts.state}${ts.reason ? `: ${ts.reason}` : ''}`];
    }),
  );
}

const nacked = (s: StatusJson): boolean => s.proxies.some((p) => Object.values(p.types).some((t) => t.state === 'NACKED'));
/** The last edit was rejected (and is not being read again): it will never roll out. */
const editRejected = (s: StatusJson): boolean => s.rejectedSinceAccepted === true && !s.configChanging;
const allSynced = (s: StatusJson): boolean => !s.configChanging && s.proxies.every((p) => p.synced);

export function formatStatus(s: StatusJson): string {
  const rows = [['NODE', 'CLUSTER', 'ENVOY', 'XDS', 'VERSION', ...TYPES]];
  for (const p of s.proxies) {
    const version = p.ackedConfigVersion === undefined || p.ackedConfigVersion === null ? '-' : String(p.ackedConfigVersion);
    rows.push([p.nodeId, p.nodeCluster || '-', p.envoyVersion ?? '-', p.protocol.toUpperCase(), version, ...TYPES.map((t) => p.types[t]?.state ?? '-')]);
  }
  const store = s.source?.store;
  let out = `config ${s.configFile}, version ${s.configVersion}${store ? `, store ${store.state}` : ''}, ${s.proxies.length} proxies\n${table(rows)}\n`;
  if (store?.state === 'down') {
    out += `\nconfig store down since ${store.since}${store.error ? `: ${store.error}` : ''}\n  ${s.configVersion ? `version ${s.configVersion} keeps being served` : 'nothing is served yet'}; writes (PUT /config, apply) fail until it answers\n`;
  }
  const rejected = s.lastRejected;
  if (rejected && s.rejectedSinceAccepted !== false) {
    out += `\nlast rejected edit (${rejected.at}, ${rejected.reason}), still serving version ${s.configVersion}:\n${rejected.problems.map((p) => `  ${p}`).join('\n')}\n`;
  }
  const notes = [...behind(s), ...s.proxies.flatMap((p) => p.warnings.map((w) => `${p.nodeId} warning: ${w}`))];
  if (notes.length > 0) out += `\n${notes.join('\n')}\n`;
  return out;
}

export interface StatusOptions {
  readonly admin?: string;
  readonly adminCa?: string;
  readonly adminTokenFile?: string;
  readonly format?: string;
  readonly wait?: boolean;
  readonly timeout?: string;
}

function timeoutMs(text: string | undefined): number {
  if (text === undefined) return 30_000;
  if (!DURATION_RE.test(text)) throw new UsageError(`--timeout must be a duration such as 30s, 2m or 500ms, not "${text}"`);
  return durationToMs(text);
}

function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read --admin-ca ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * `shadowplane status [--admin URL] [--admin-ca F] [--admin-token-file F] [--format json] [--wait [--timeout 30s]]`:
 * exit 0 when every proxy is SYNCED on every type, 1 when any is not (NACKED, or at the timeout) or,
 * with --wait, when the last edit was rejected; 2 on a usage error.
 */
export async function statusCommand(o: StatusOptions, io: Io): Promise<number> {
  if (o.timeout !== undefined && !o.wait) throw new UsageError('--timeout goes with --wait');
  const limit = timeoutMs(o.timeout);
  const base = o.admin ?? 'http://127.0.0.1:19000';
  const url = `${/^https?:\/\//.test(base) ? base.replace(/\/$/, '') : `http://${base}`}/status`;
  if (o.adminCa !== undefined && !url.startsWith('https://')) throw new UsageError('--admin-ca needs an https:// --admin address');
  // The read token, else the write token (which reads too).
  const token = await readToken(o.adminTokenFile, '--admin-token-file', [ADMIN_READ_TOKEN_ENV, ADMIN_TOKEN_ENV]);
  const ca = readCa(o.adminCa);
  const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
  const read = async (): Promise<StatusJson | string> => {
    try {
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, ...(dispatcher ? { dispatcher } : {}) });
      if (res.status === 401) return `HTTP 401: ${token ? 'the token was refused' : 'reads need a token (--admin-token-file F, or SHADOWPLANE_ADMIN_READ_TOKEN)'}`;
      if (!res.ok) return `HTTP ${res.status}`;
      return (await res.json()) as StatusJson;
    } catch (e) {
      const err = e as Error & { cause?: Error };
      return err.cause?.message ?? err.message;
    }
  };
  try {
    return await watch(o, io, url, read, Date.now() + limit);
  } finally {
    await dispatcher?.close();
  }
}

async function watch(o: StatusOptions, io: Io, url: string, read: () => Promise<StatusJson | string>, deadline: number): Promise<number> {
  const show = (s: StatusJson): void => io.out(o.format === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  for (;;) {
    const s = await read();
    if (typeof s === 'string') {
      io.err(`shadowplane: cannot read ${url}: ${s}\n`);
      return 1;
    }
    if (!o.wait || allSynced(s) || nacked(s) || editRejected(s) || Date.now() >= deadline) {
      show(s);
      if (o.wait && editRejected(s)) {
        io.err(`shadowplane: the last edit was rejected: it will not roll out (version ${s.configVersion} keeps being served)\n`);
        return 1;
      }
      if (allSynced(s)) return 0;
      if (o.wait) io.err(nacked(s) ? 'shadowplane: a proxy rejected the config (NACKED)\n' : `shadowplane: not every proxy is SYNCED after ${o.timeout ?? '30s'}\n`);
      return 1;
    }
    await sleep(250);
  }
}
