// The certificate files of a serving process, read and checked before anything binds (a file that
// cannot be used is a TlsFileError naming it), and kept fresh while it runs.
import type { Logger } from 'pino';
import { CertificateFiles } from '../tls/certificate-files.js';
import { loadIdentityReader } from '../tls/certificate-identities.js';
import { serverCredentials } from '../tls/grpc-credentials.js';
import { DEFAULT_NODE_IDENTITY_RULE, type NodeIdentityRule } from '../tls/node-identity.js';
import type { AdsServerOptions } from '../xds/ads-server.js';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are read again (default 1 s). */
  readonly refreshMs?: number;
}

export interface XdsTls extends TlsFiles {
  /** CAs whose client certificates are accepted; without it, clients are not asked for one. */
  readonly clientCaFile?: string;
  /** Replaces the default node identity rule (tls/node-identity.ts); needs `clientCaFile`. */
  readonly nodeIdentity?: NodeIdentityRule;
}

/** What a client of a control plane over TLS uses. */
export interface XdsClientTls {
  /** CAs that verify the control plane's certificate. */
  readonly caFile: string;
  /** This client's certificate, for mutual TLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The name the control plane's certificate must carry, sent as SNI (default: the --xds host). */
  readonly serverName?: string;
  readonly refreshMs?: number;
}

export function adminCertificates(o: TlsFiles, logger: Logger): CertificateFiles {
  return new CertificateFiles({ certFile: o.certFile, keyFile: o.keyFile }, { role: 'admin', logger: logger.child({ component: 'admin-tls' }), ...(o.refreshMs ? { refreshMs: o.refreshMs } : {}) });
}

export async function xdsSecurity(o: XdsTls, logger: Logger): Promise<Pick<AdsServerOptions, 'credentials' | 'nodeIdentity'>> {
  if (o.nodeIdentity && !o.clientCaFile) throw new RangeError('a node identity rule needs a client CA (mutual TLS)');
  const files = new CertificateFiles(
    { certFile: o.certFile, keyFile: o.keyFile, ...(o.clientCaFile ? { caFile: o.clientCaFile } : {}) },
    { role: 'xDS server', caRole: 'CA for xDS client certificates', logger: logger.child({ component: 'xds-tls' }), ...(o.refreshMs ? { refreshMs: o.refreshMs } : {}) },
  );
  return {
    credentials: serverCredentials(files),
    ...(o.clientCaFile ? { nodeIdentity: { rule: o.nodeIdentity ?? DEFAULT_NODE_IDENTITY_RULE, readIdentities: await loadIdentityReader() } } : {}),
  };
}

/** Throws TlsFileError when a file cannot be used; `logger` reports reloads. */
export function xdsClientCertificates(o: XdsClientTls, logger?: Logger): CertificateFiles {
  return new CertificateFiles(
    { caFile: o.caFile, ...(o.certFile !== undefined && o.keyFile !== undefined ? { certFile: o.certFile, keyFile: o.keyFile } : {}) },
    { role: 'xDS client', caRole: 'CA for the xDS server certificate', ...(logger ? { logger: logger.child({ component: 'xds-tls' }) } : {}), ...(o.refreshMs ? { refreshMs: o.refreshMs } : {}) },
  );
}
