import path from 'node:path';
import { parseHostPort } from '../config/address.js';
import { adsBootstrap, staticBootstrap } from '../translate/bootstrap.js';
import { translate } from '../translate/resources.js';
import { xdsClientCertificates } from '../server/tls-setup.js';
import { compileFile } from './compile.js';
import { loadOptions, type LoadFlags } from './load-flags.js';
import { formatDocument } from '../envoy-api/document-format.js';
import { canonicalResources } from '../envoy-api/resource-set.js';
import { parseFormat, UsageError, type Io } from './output.js';
import { xdsClientTls } from './proxy.js';

export interface BootstrapOptions {
  readonly xds?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly adminPort?: string;
  readonly delta?: boolean;
  readonly static?: string;
  readonly format?: string;
  readonly xdsCa?: string;
  readonly xdsClientCert?: string;
  readonly xdsClientKey?: string;
  readonly xdsSni?: string;
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--admin-port must be a port number, not "${text}"`);
  return n;
}

/**
 * `shadowplane bootstrap --xds HOST:PORT[,HOST:PORT…] --node-id ID [--node-cluster C] [--admin-port P] [--delta]
 * [--xds-ca F --xds-client-cert F --xds-client-key F [--xds-sni NAME]]` or, without a control plane,
 * `shadowplane bootstrap --static FILE --node-id ID`.
 */
export async function bootstrapCommand(o: BootstrapOptions, flags: LoadFlags, io: Io): Promise<number> {
  const format = parseFormat(o.format, 'yaml');
  if (o.nodeId === undefined) throw new UsageError('bootstrap needs --node-id');
  const adminPort = parsePort(o.adminPort);
  if (o.static !== undefined) {
    if (o.xdsCa !== undefined || o.xdsClientCert !== undefined || o.xdsSni !== undefined) throw new UsageError('--static takes no --xds-ca, --xds-client-cert or --xds-sni (there is no control plane to reach)');
    const model = await compileFile(o.static, io, loadOptions(flags));
    if (!model) return 1;
    const node = { id: o.nodeId, ...(o.nodeCluster !== undefined ? { cluster: o.nodeCluster } : {}) };
    const resources = canonicalResources(translate(model, node));
    io.out(formatDocument(staticBootstrap(resources, { nodeId: o.nodeId, ...(adminPort ? { adminPort } : {}) }), format));
    return 0;
  }
  if (o.xds === undefined) throw new UsageError('bootstrap needs --xds HOST:PORT[,HOST:PORT…] (or --static FILE)');
  const parts = o.xds.split(',');
  const bad = parts.find((p) => !parseHostPort(p));
  if (bad !== undefined) throw new UsageError(parts.length > 1 ? `--xds must be host:port[,host:port…], not "${bad}" in "${o.xds}"` : `--xds must be host:port, not "${o.xds}"`);
  const tls = xdsClientTls(o);
  // Checked now (readable, a certificate, a key that belongs to it) rather than when Envoy starts.
  if (tls) xdsClientCertificates(tls);
  const abs = (f: string | undefined): string | undefined => (f === undefined ? undefined : path.resolve(f));
  const doc = adsBootstrap({
    xds: o.xds,
    nodeId: o.nodeId,
    ...(o.nodeCluster !== undefined ? { nodeCluster: o.nodeCluster } : {}),
    ...(adminPort !== undefined ? { adminPort } : {}),
    delta: o.delta ?? false,
    ...(tls ? { tls: { caFile: abs(tls.caFile)!, certFile: abs(tls.certFile), keyFile: abs(tls.keyFile), ...(tls.serverName !== undefined ? { sni: tls.serverName } : {}) } } : {}),
  });
  io.out(formatDocument(doc, format));
  return 0;
}
