// `shadowplane proxy --xds HOST:PORT --node-id ID`: the TypeScript data path as an xDS client of a
// remote shadowplane, ACKing what it can honour and NACKing the rest with the reason, as Envoy does.
import { createServer } from 'node:http';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseHostPort } from '../config/address.js';
import { ListenError } from '../server/listen-error.js';
import { RTDS_LAYER_NAME } from '../envoy-api/metadata.js';
import { createDataPlane, formatResourceProblem, runtimeValuesFromLayers } from '../proxy/index.js';
import { DEFAULT_NODE_CLUSTER } from '../translate/bootstrap.js';
import { EnvoyLikeSubscriber } from '../xds-client/envoy-like-subscriber.js';
import { routeGrpcLogs } from '../server/grpc-log.js';
import { logLevel, UsageError, type Io } from './output.js';

export interface ProxyOptions {
  readonly xds?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly admin?: string;
  readonly logLevel?: string;
}

export async function proxyCommand(o: ProxyOptions, _io: Io): Promise<number> {
  if (o.xds === undefined || o.nodeId === undefined) throw new UsageError('proxy needs --xds HOST:PORT and --node-id ID');
  if (!parseHostPort(o.xds)) throw new UsageError(`--xds must be host:port, not "${o.xds}"`);
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9902');
  if (!admin) throw new UsageError(`--admin must be host:port, not "${o.admin}"`);
  const logger = pino({ level: logLevel(o.logLevel), base: { svc: 'shadowplane-proxy' } });
  routeGrpcLogs(logger);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const plane = createDataPlane({ logger: logger.child({ component: 'data-plane' }), registry });
  let applied = false;
  const subscriber = new EnvoyLikeSubscriber({
    target: o.xds,
    node: { id: o.nodeId, cluster: o.nodeCluster ?? DEFAULT_NODE_CLUSTER },
    runtimeLayers: [RTDS_LAYER_NAME],
    apply: async (set) => {
      const r = await plane.apply(set, runtimeValuesFromLayers(set.runtime ?? []));
      if (r.ok) {
        applied = true;
        return undefined;
      }
      const e = r.error as { problems?: ReadonlyArray<Parameters<typeof formatResourceProblem>[0]> };
      return e.problems ? e.problems.map(formatResourceProblem).join('; ') : r.error.message;
    },
  });
  subscriber.on('rejected', (type, reason) => logger.warn({ type, reason }, 'rejected a config update (NACK); keeping the previous one'));
  subscriber.on('disconnected', (e) => logger.warn({ error: e?.message }, 'xDS stream ended; reconnecting'));
  subscriber.start();
  // Loopback by default: readiness, metrics and mirror response comparisons.
  const server = createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(applied ? 200 : 503).end(applied ? 'ready\n' : 'waiting for config\n');
    else if (req.url === '/metrics') void registry.metrics().then((m) => res.writeHead(200, { 'content-type': registry.contentType }).end(m));
    else if (req.url === '/mirror_diffs') res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(plane.comparisons(), null, 2)}\n`);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new ListenError('the proxy admin endpoint', `${admin.host}:${admin.port}`, e)));
    server.listen(admin.port, admin.host, resolve);
  }).catch(async (e: unknown) => {
    subscriber.stop();
    await plane.close();
    throw e;
  });
  logger.info({ xds: o.xds, node: o.nodeId, admin: o.admin ?? '127.0.0.1:9902' }, 'shadowplane proxy started');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  subscriber.stop();
  server.closeAllConnections();
  server.close();
  await plane.close();
  return 0;
}
