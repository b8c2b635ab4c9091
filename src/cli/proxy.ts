// `shadowplane proxy --xds HOST:PORT --node-id ID`: flags → options, then the data path as an xDS
// client (server/proxy-process.ts) until a signal.
import { pino } from 'pino';
import { parseHostPort } from '../config/address.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { startProxy } from '../server/proxy-process.js';
import type { XdsClientTls } from '../server/tls-setup.js';
import { DEFAULT_NODE_CLUSTER } from '../translate/bootstrap.js';
import { logLevel, UsageError, workerCount, type Io } from './output.js';
import { certAndKey, readToken, refuseWithout } from './secrets.js';
import { ADMIN_READ_TOKEN_ENV } from './serve.js';
import { untilSignal } from './signals.js';

export interface ProxyFlags {
  readonly xds?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly admin?: string;
  readonly adminReadTokenFile?: string;
  readonly adminInsecureNoToken?: boolean;
  readonly adminTlsCert?: string;
  readonly adminTlsKey?: string;
  readonly xdsCa?: string;
  readonly xdsClientCert?: string;
  readonly xdsClientKey?: string;
  readonly xdsSni?: string;
  /** Data-plane worker processes; default one per CPU. */
  readonly workers?: string;
  readonly logLevel?: string;
}

/** `--xds-ca F [--xds-client-cert F --xds-client-key F] [--xds-sni NAME]`, as `bootstrap` takes them. */
export function xdsClientTls(o: { xdsCa?: string; xdsClientCert?: string; xdsClientKey?: string; xdsSni?: string }): XdsClientTls | undefined {
  const pair = certAndKey(o.xdsClientCert, o.xdsClientKey, '--xds-client-cert', '--xds-client-key');
  if (o.xdsCa === undefined) {
    refuseWithout(pair, '--xds-client-cert', '--xds-ca (the CA that verifies the control plane)');
    refuseWithout(o.xdsSni, '--xds-sni', '--xds-ca');
    return undefined;
  }
  return { caFile: o.xdsCa, ...pair, ...(o.xdsSni !== undefined ? { serverName: o.xdsSni } : {}) };
}

export async function proxyCommand(o: ProxyFlags, _io: Io): Promise<number> {
  if (o.xds === undefined || o.nodeId === undefined) throw new UsageError('proxy needs --xds HOST:PORT and --node-id ID');
  if (!parseHostPort(o.xds)) throw new UsageError(`--xds must be host:port, not "${o.xds}"`);
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9902');
  if (!admin) throw new UsageError(`--admin must be host:port, not "${o.admin}"`);
  const tls = xdsClientTls(o);
  const workers = workerCount(o.workers);
  const adminTls = certAndKey(o.adminTlsCert, o.adminTlsKey, '--admin-tls-cert', '--admin-tls-key');
  const adminReadToken = await readToken(o.adminReadTokenFile, '--admin-read-token-file', [ADMIN_READ_TOKEN_ENV]);
  const logger = pino({ level: logLevel(o.logLevel), base: { svc: 'shadowplane-proxy' } });
  routeGrpcLogs(logger);
  const proxy = await startProxy(
    {
      xds: o.xds,
      node: { id: o.nodeId, cluster: o.nodeCluster ?? DEFAULT_NODE_CLUSTER },
      admin,
      workers,
      ...(tls ? { xdsTls: tls } : {}),
      ...(adminTls ? { adminTls } : {}),
      ...(adminReadToken !== undefined ? { adminReadToken } : {}),
      ...(o.adminInsecureNoToken ? { adminInsecureNoToken: true } : {}),
    },
    logger,
  );
  await untilSignal();
  await proxy.close();
  return 0;
}
