// The control plane's admin routes: per-proxy status, what a node is served, and the config as its
// source stores it: GET /config with its entity tag, PUT /config guarded by If-Match, or (etcd) by
// If-None-Match: * to create the key only if it holds nothing; without either the write is
// unconditional, as HTTP has it (a write: AdminServer asks for the write token).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WriteOutcome, WriteRequest } from '../config/config-source.js';
import { formatProblem } from '../config/problems.js';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { TYPE_SHORT_NAMES, type ServedTypeUrl } from '../xds/snapshot.js';
import { send, type AdminRoutes } from './admin-server.js';
import type { ControlPlane } from './control-plane.js';

export interface ControlPlaneAdminOptions {
  readonly controlPlane: ControlPlane;
  /** Larger bodies are refused rather than buffered. */
  readonly maxConfigBytes?: number;
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface ProxyTypesJson {
  readonly types: Record<string, { readonly state: string; readonly ackedConfigVersion?: number }>;
}

/**
 * The config version a proxy has acknowledged as a whole: the lowest over its types, a SYNCED type
 * counting as the current version (its content is the current one, even if it was last sent with an
 * older version that left it unchanged); null before it has acknowledged anything of some type.
 */
function ackedConfigVersion(p: ProxyTypesJson, current: number): number | null {
  const versions = Object.values(p.types).map((t) => (t.state === 'SYNCED' ? current : t.ackedConfigVersion));
  if (versions.length === 0 || versions.some((v) => v === undefined)) return null;
  return Math.min(...(versions as number[]));
}

/** Everything, or with `node` only that proxy's records (cheap to poll with many proxies). */
export function controlPlaneStatus(cp: ControlPlane, node?: string | null): object {
  const proxies = cp.ads.proxies.list().filter((p) => node === undefined || node === null || p.node?.id === node);
  return {
    configFile: cp.source.location,
    source: cp.source.status(),
    configVersion: cp.cache.configVersion,
    minEnvoyVersion: cp.model?.minEnvoyVersion ?? null,
    // A change was seen and is still being read: what follows may be about to change.
    configChanging: cp.source.changing,
    lastAccepted: cp.lastAccepted ?? null,
    lastRejected: cp.lastRejected ?? null,
    rejectedSinceAccepted: cp.rejectedSinceAccepted,
    synced: proxies.every((p) => p.synced()),
    proxies: proxies.map((p) => {
      const json = p.toJSON() as ProxyTypesJson;
      const userAgentVersion = p.node?.userAgentVersion ?? p.node?.envoyVersion ?? null;
      return { ...json, userAgentVersion, ackedConfigVersion: ackedConfigVersion(json, cp.cache.configVersion) };
    }),
  };
}

function nodeFor(cp: ControlPlane, id: string, cluster: string | null): NodeInfo {
  const connected = cp.ads.proxies.list().find((p) => p.node?.id === id)?.node;
  return connected ?? { id, cluster: cluster ?? '', envoyVersion: undefined, userAgent: '' };
}

function configDump(cp: ControlPlane, url: URL): object | undefined {
  const id = url.searchParams.get('node');
  const node = id === null ? undefined : nodeFor(cp, id, url.searchParams.get('cluster'));
  const snapshot = cp.cache.snapshotFor(node);
  if (!snapshot) return undefined;
  const out: Record<string, unknown> = { node: node ?? null, configVersion: snapshot.configVersion, warnings: snapshot.warnings };
  for (const [typeUrl, ts] of snapshot.types) {
    out[TYPE_SHORT_NAMES[typeUrl as ServedTypeUrl]] = { version: ts.version, resources: [...ts.resources.values()].map((r) => r.json) };
  }
  return out;
}

export function controlPlaneRoutes(o: ControlPlaneAdminOptions): AdminRoutes {
  const cp = o.controlPlane;
  return {
    'GET /status': (_req, res, url) => send(res, 200, controlPlaneStatus(cp, url.searchParams.get('node'))),
    'GET /config_dump': (_req, res, url) => {
      const dump = configDump(cp, url);
      return dump ? send(res, 200, dump) : send(res, 503, { error: 'no config loaded' });
    },
    'GET /config': async (_req, res) => {
      const r = await cp.source.read();
      if (r.kind !== 'stored') return send(res, r.kind === 'absent' ? 404 : r.kind === 'unavailable' ? 503 : 409, { error: r.message });
      res.setHeader('etag', r.stored.etag);
      return send(res, 200, r.stored.text, 'application/yaml; charset=utf-8');
    },
    'PUT /config': async (req, res) => {
      const limit = o.maxConfigBytes ?? 4 * 1024 * 1024;
      const body = await readBody(req, limit);
      if (body === undefined) return send(res, 413, { error: `config larger than ${limit} bytes` });
      const ifMatch = req.headers['if-match'];
      const ifNoneMatch = req.headers['if-none-match'];
      // Only etcd writes can be made on condition that nothing is stored yet (in the same transaction);
      // a precondition that would be ignored is refused instead.
      if (ifNoneMatch !== undefined && cp.source.status().kind !== 'etcd') {
        return send(res, 400, { error: 'If-None-Match is honoured only with a config in etcd (--config etcd://…); nothing was written. Guard the write with If-Match' });
      }
      const request: WriteRequest = {
        text: body,
        reason: 'admin PUT /config',
        origin: 'PUT /config body',
        ...(ifMatch !== undefined ? { ifMatch } : {}),
        ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}),
      };
      const outcome = await cp.source.write(request);
      sendWriteOutcome(res, outcome, cp, [ifMatch !== undefined ? `If-Match ${ifMatch}` : '', ifNoneMatch !== undefined ? `If-None-Match ${ifNoneMatch}` : ''].filter((p) => p !== '').join(' and '));
    },
  };
}

/**
 * 200 with the new entity tag; 422 invalid, 409 If-Match or If-None-Match did not hold (with what is
 * stored now; 409 rather than RFC 9110's 412, as the issue asked, so one status means "someone wrote
 * first") or a folder, 503 the store is down.
 */
function sendWriteOutcome(res: ServerResponse, w: WriteOutcome, cp: ControlPlane, precondition: string): void {
  switch (w.kind) {
    case 'written':
      res.setHeader('etag', w.etag);
      return send(res, 200, { configVersion: cp.cache.configVersion, etag: w.etag, ...(w.revision !== undefined ? { revision: w.revision } : {}), warnings: w.result.warnings.map(formatProblem) });
    case 'invalid':
      if (w.storedAs) res.setHeader('etag', w.storedAs);
      return send(res, 422, { problems: w.problems.map(formatProblem), ...(w.storedAs ? { storedAs: w.storedAs } : {}) });
    case 'conflict': {
      if (w.current) res.setHeader('etag', w.current.etag);
      const now = w.current ? `it is now ${w.current.revision !== undefined ? `revision ${w.current.revision}` : w.current.etag}` : 'nothing is stored now';
      return send(res, 409, {
        error: `${precondition || 'the precondition'} does not hold: the stored config changed (${now}); nothing was written. GET /config, apply your edit to it, and PUT it with its ETag as If-Match`,
        etag: w.current?.etag ?? null,
        ...(w.current?.revision !== undefined ? { revision: w.current.revision } : {}),
      });
    }
    case 'unavailable':
      res.setHeader('retry-after', '1');
      return send(res, 503, { error: w.message });
    case 'read-only':
      return send(res, 409, { error: w.message });
  }
}
