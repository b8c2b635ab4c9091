// `shadowplane serve`: the control plane as a long-running process.
import { readFile } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseHostPort } from '../config/address.js';
import { createDataPlane } from '../proxy/index.js';
import { AdminServer } from '../server/admin-server.js';
import { feedBuiltinDataPlane } from '../server/builtin-data-plane.js';
import { DEFAULT_NODE_CLUSTER } from '../translate/bootstrap.js';
import { ControlPlane } from '../server/control-plane.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { logLevel, UsageError, type Io } from './output.js';

export interface ServeOptions {
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
}

export interface RunningServer {
  readonly controlPlane: ControlPlane;
  readonly registry: Registry;
  readonly admin: AdminServer;
  readonly xdsPort: number;
  readonly adminPort: number;
  close(): Promise<void>;
}

function address(value: string, flag: string): { host: string; port: number } {
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

/** Starts the control plane; resolves once it serves, or undefined when the config is invalid. */
/** `dataPlaneLogger` gives the built-in data plane a logger of its own (the sandbox prefixes it apart). */
export async function startServer(o: ServeOptions, logger: Logger, dataPlaneLogger = logger.child({ component: 'data-plane' })): Promise<RunningServer | undefined> {
  if (o.config === undefined) throw new UsageError('serve needs --config FILE');
  if (o.dataPlane !== undefined && o.dataPlane !== 'builtin' && o.dataPlane !== 'none') throw new UsageError(`--data-plane must be builtin or none, not "${o.dataPlane}"`);
  const xds = address(o.xds ?? '127.0.0.1:18000', '--xds');
  const adminAddr = address(o.admin ?? '127.0.0.1:19000', '--admin');
  // Every flag is checked before anything binds.
  const token = await adminToken(o.adminTokenFile);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const controlPlane = new ControlPlane({ configFile: o.config, logger, registry });
  const xdsTarget = xds.host.includes(':') ? `[${xds.host}]:${xds.port}` : `${xds.host}:${xds.port}`;
  if (!(await controlPlane.start({ xds: xdsTarget, watch: o.watch ?? true }))) return undefined;
  // Created before the admin, which serves its comparisons; it binds nothing until fed a config.
  const plane = o.dataPlane === 'builtin' ? createDataPlane({ logger: dataPlaneLogger, registry }) : undefined;
  const admin = new AdminServer({
    controlPlane,
    registry,
    logger: logger.child({ component: 'admin' }),
    token,
    ...(plane ? { comparisons: () => plane.comparisons() } : {}),
  });
  const adminPort = await admin.listen(adminAddr.host, adminAddr.port).catch(async (e: unknown) => {
    await plane?.close();
    await controlPlane.close();
    throw e;
  });
  logger.info({ xds: `${xds.host}:${controlPlane.ads.port}`, admin: `${adminAddr.host}:${adminPort}` }, 'shadowplane serving');
  const closers: Array<() => Promise<void> | void> = [];
  if (plane) {
    const node = { id: o.nodeId ?? 'builtin', cluster: o.nodeCluster ?? DEFAULT_NODE_CLUSTER, envoyVersion: undefined, userAgent: 'shadowplane' };
    const stop = await feedBuiltinDataPlane(controlPlane.cache, plane, node, dataPlaneLogger);
    closers.push(stop, () => plane.close());
  }
  return {
    controlPlane,
    registry,
    admin,
    xdsPort: controlPlane.ads.port,
    adminPort,
    async close() {
      for (const c of closers.reverse()) await c();
      await admin.close();
      await controlPlane.close();
    },
  };
}

/** `shadowplane serve --config FILE [--xds HOST:PORT] [--admin HOST:PORT] [--admin-token-file F] [--no-watch] [--data-plane builtin]` */
export async function serveCommand(o: ServeOptions, io: Io): Promise<number> {
  const logger = pino({ level: logLevel(o.logLevel), base: { svc: 'shadowplane' } });
  routeGrpcLogs(logger);
  const server = await startServer(o, logger);
  if (!server) {
    io.err(`${o.config}: not served: the config is invalid (see the errors above)\n`);
    return 1;
  }
  const onHup = (): void => void server.controlPlane.source.reload('SIGHUP');
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', onHup);
  logger.info('shutting down');
  await server.close();
  return 0;
}
