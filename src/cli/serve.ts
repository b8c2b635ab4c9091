// `shadowplane serve`: flags → options, then the control plane (server/serve-process.ts) until a signal.
import { pino } from 'pino';
import { parseHostPort, type HostPort } from '../config/address.js';
import type { LoadOptions } from '../config/load.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { startServer, type ServerOptions } from '../server/serve-process.js';
import type { XdsTls } from '../server/tls-setup.js';
import { IdentityTemplateError, nodeIdentityTemplate } from '../tls/node-identity.js';
import { configLocation } from './config-store.js';
import { logLevel, UsageError, workerCount, type Io } from './output.js';
import { certAndKey, readToken, refuseWithout } from './secrets.js';
import { untilSignal } from './signals.js';

export interface ServeFlags {
  readonly config?: string;
  readonly xds?: string;
  readonly admin?: string;
  readonly adminTokenFile?: string;
  readonly adminReadTokenFile?: string;
  readonly adminInsecureNoToken?: boolean;
  readonly adminTlsCert?: string;
  readonly adminTlsKey?: string;
  readonly xdsTlsCert?: string;
  readonly xdsTlsKey?: string;
  readonly xdsClientCa?: string;
  readonly xdsNodeIdentity?: string;
  readonly watch?: boolean;
  readonly logLevel?: string;
  /** `builtin` also runs the TypeScript data path in this process, as node `nodeId`. */
  readonly dataPlane?: string;
  /** Data-plane worker processes (with --data-plane builtin); default one per CPU. */
  readonly workers?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  /** How the config path is read (--from, --listen-address). */
  readonly load?: LoadOptions;
}

/** `host:port`, where port 0 (any free port) is allowed too. */
export function listenAddress(value: string, flag: string): HostPort {
  const hp = /^(.*):(\d+)$/.exec(value);
  const parsed = parseHostPort(value) ?? (hp && hp[2] === '0' ? { host: hp[1]!.replace(/^\[|\]$/g, ''), port: 0 } : undefined);
  if (!parsed) throw new UsageError(`${flag} must be host:port, not "${value}"`);
  return parsed;
}

export const ADMIN_TOKEN_ENV = 'SHADOWPLANE_ADMIN_TOKEN';
export const ADMIN_READ_TOKEN_ENV = 'SHADOWPLANE_ADMIN_READ_TOKEN';

function xdsTls(o: ServeFlags): XdsTls | undefined {
  const pair = certAndKey(o.xdsTlsCert, o.xdsTlsKey, '--xds-tls-cert', '--xds-tls-key');
  if (!pair) refuseWithout(o.xdsClientCa, '--xds-client-ca', '--xds-tls-cert and --xds-tls-key');
  if (o.xdsClientCa === undefined) refuseWithout(o.xdsNodeIdentity, '--xds-node-identity', '--xds-client-ca (mutual TLS)');
  if (!pair) return undefined;
  let nodeIdentity;
  try {
    nodeIdentity = o.xdsNodeIdentity === undefined ? undefined : nodeIdentityTemplate(o.xdsNodeIdentity);
  } catch (e) {
    if (e instanceof IdentityTemplateError) throw new UsageError(`--xds-node-identity: ${e.message}`);
    throw e;
  }
  return { ...pair, ...(o.xdsClientCa !== undefined ? { clientCaFile: o.xdsClientCa } : {}), ...(nodeIdentity ? { nodeIdentity } : {}) };
}

/** Every flag is checked before anything binds. */
async function serverOptions(o: ServeFlags): Promise<ServerOptions> {
  if (o.config === undefined) throw new UsageError('serve needs --config FILE (or a folder, or etcd://HOST:PORT[,HOST:PORT…]/KEY)');
  configLocation(o.config, 'serve');
  if (o.dataPlane !== undefined && o.dataPlane !== 'builtin' && o.dataPlane !== 'none') throw new UsageError(`--data-plane must be builtin or none, not "${o.dataPlane}"`);
  if (o.dataPlane !== 'builtin') refuseWithout(o.workers, '--workers', '--data-plane builtin');
  const workers = workerCount(o.workers);
  const tls = xdsTls(o);
  const adminTls = certAndKey(o.adminTlsCert, o.adminTlsKey, '--admin-tls-cert', '--admin-tls-key');
  const adminReadToken = await readToken(o.adminReadTokenFile, '--admin-read-token-file', [ADMIN_READ_TOKEN_ENV]);
  return {
    configFile: o.config,
    xds: listenAddress(o.xds ?? '127.0.0.1:18000', '--xds'),
    admin: listenAddress(o.admin ?? '127.0.0.1:19000', '--admin'),
    adminToken: await readToken(o.adminTokenFile, '--admin-token-file', [ADMIN_TOKEN_ENV]),
    ...(adminReadToken !== undefined ? { adminReadToken } : {}),
    ...(o.adminInsecureNoToken ? { adminInsecureNoToken: true } : {}),
    ...(adminTls ? { adminTls } : {}),
    ...(tls ? { xdsTls: tls } : {}),
    watch: o.watch ?? true,
    ...(o.load ? { load: o.load } : {}),
    ...(o.dataPlane === 'builtin' ? { builtinDataPlane: { nodeId: o.nodeId, nodeCluster: o.nodeCluster, workers } } : {}),
  };
}

/** `shadowplane serve --config FILE|etcd://… [--xds HOST:PORT] [--admin HOST:PORT] [TLS and token flags] [--no-watch] [--data-plane builtin [--workers N]]` */
export async function serveCommand(o: ServeFlags, io: Io): Promise<number> {
  const options = await serverOptions(o);
  const logger = pino({ level: logLevel(o.logLevel), base: { svc: 'shadowplane' } });
  routeGrpcLogs(logger);
  const server = await startServer(options, logger);
  if (!server) {
    io.err(`${o.config}: not served: the config is invalid (see the errors above)\n`);
    return 1;
  }
  const onHup = (): void => void server.controlPlane.source.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  await untilSignal();
  process.off('SIGHUP', onHup);
  logger.info('shutting down');
  await server.close();
  return 0;
}
