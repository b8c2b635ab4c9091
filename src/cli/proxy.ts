// `shadowplane proxy --xds HOST:PORT --node-id ID`: flags → options, then the data path as an xDS
// client (server/proxy-process.ts) until a signal.
import { pino } from 'pino';
import { parseHostPort } from '../config/address.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { startProxy } from '../server/proxy-process.js';
import { DEFAULT_NODE_CLUSTER } from '../translate/bootstrap.js';
import { logLevel, UsageError, type Io } from './output.js';
import { untilSignal } from './signals.js';

export interface ProxyFlags {
  readonly xds?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly admin?: string;
  readonly logLevel?: string;
}

export async function proxyCommand(o: ProxyFlags, _io: Io): Promise<number> {
  if (o.xds === undefined || o.nodeId === undefined) throw new UsageError('proxy needs --xds HOST:PORT and --node-id ID');
  if (!parseHostPort(o.xds)) throw new UsageError(`--xds must be host:port, not "${o.xds}"`);
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9902');
  if (!admin) throw new UsageError(`--admin must be host:port, not "${o.admin}"`);
  const logger = pino({ level: logLevel(o.logLevel), base: { svc: 'shadowplane-proxy' } });
  routeGrpcLogs(logger);
  const proxy = await startProxy({ xds: o.xds, node: { id: o.nodeId, cluster: o.nodeCluster ?? DEFAULT_NODE_CLUSTER }, admin }, logger);
  await untilSignal();
  await proxy.close();
  return 0;
}
