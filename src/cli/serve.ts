// `shadowplane serve`: flags → options, then the control plane (server/serve-process.ts) until a signal.
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { parseHostPort, type HostPort } from '../config/address.js';
import type { LoadOptions } from '../config/load.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { startServer, type ServerOptions } from '../server/serve-process.js';
import { logLevel, UsageError, type Io } from './output.js';
import { untilSignal } from './signals.js';

export interface ServeFlags {
  readonly config?: string;
  readonly xds?: string;
  readonly admin?: string;
  readonly adminTokenFile?: string;
  readonly watch?: boolean;
  readonly logLevel?: string;
  /** `builtin` also runs the TypeScript data path in this process, as node `nodeId`. */
  readonly dataPlane?: string;
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

async function adminToken(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return process.env.SHADOWPLANE_ADMIN_TOKEN || undefined;
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw new UsageError(`cannot read --admin-token-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Every flag is checked before anything binds. */
async function serverOptions(o: ServeFlags): Promise<ServerOptions> {
  if (o.config === undefined) throw new UsageError('serve needs --config FILE (or a folder)');
  if (o.dataPlane !== undefined && o.dataPlane !== 'builtin' && o.dataPlane !== 'none') throw new UsageError(`--data-plane must be builtin or none, not "${o.dataPlane}"`);
  return {
    configFile: o.config,
    xds: listenAddress(o.xds ?? '127.0.0.1:18000', '--xds'),
    admin: listenAddress(o.admin ?? '127.0.0.1:19000', '--admin'),
    adminToken: await adminToken(o.adminTokenFile),
    watch: o.watch ?? true,
    ...(o.load ? { load: o.load } : {}),
    ...(o.dataPlane === 'builtin' ? { builtinDataPlane: { nodeId: o.nodeId, nodeCluster: o.nodeCluster } } : {}),
  };
}

/** `shadowplane serve --config FILE [--xds HOST:PORT] [--admin HOST:PORT] [--admin-token-file F] [--no-watch] [--data-plane builtin]` */
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
