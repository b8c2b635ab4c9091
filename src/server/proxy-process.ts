// `shadowplane proxy` as one call: the built-in data plane as an xDS client of a remote control
// plane, ACKing what it can honour and NACKing the rest with the reason, as Envoy does, with an admin
// endpoint for readiness, metrics and mirror response comparisons. Options come parsed; flags and
// signals belong to cli/proxy.ts.
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { HostPort } from '../config/address.js';
import { RTDS_LAYER_NAME } from '../envoy-api/metadata.js';
import { formatResourceProblem, runtimeValuesFromLayers, type ResourceProblem } from '../proxy/index.js';
import { channelCredentials, serverNameOptions } from '../tls/grpc-credentials.js';
import { EnvoyLikeSubscriber } from '../xds-client/envoy-like-subscriber.js';
import { AdminAccess } from './admin-access.js';
import { AdminServer } from './admin-server.js';
import { hostDataPlane, type HostedDataPlane } from './hosted-data-plane.js';
import type { MetricsSource } from './metrics-source.js';
import { adminCertificates, xdsClientCertificates, type TlsFiles, type XdsClientTls } from './tls-setup.js';

export interface ProxyOptions {
  /** host:port of the control plane's ADS server. */
  readonly xds: string;
  readonly node: { readonly id: string; readonly cluster: string };
  /** Where the admin endpoint listens; port 0 takes any free port. */
  readonly admin: HostPort;
  /** Admin tokens and TLS, as for `serve` (admin-access.ts). */
  readonly adminReadToken?: string;
  readonly adminInsecureNoToken?: boolean;
  readonly adminTls?: TlsFiles;
  /** TLS (and with a client certificate, mutual TLS) to the control plane; plaintext without. */
  readonly xdsTls?: XdsClientTls;
  /** Data-plane worker processes sharing the listeners; 1 (the default) runs it in this process. */
  readonly workers?: number;
  /** Reconnect backoff after the stream ends (default 0.5 s doubling to 30 s). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export interface RunningProxy {
  readonly plane: HostedDataPlane;
  readonly registry: Registry;
  /** What /metrics serves: the registry's, with the data-plane workers' aggregated in. */
  readonly metrics: MetricsSource;
  readonly subscriber: EnvoyLikeSubscriber;
  readonly adminPort: number;
  close(): Promise<void>;
}

export async function startProxy(o: ProxyOptions, logger: Logger): Promise<RunningProxy> {
  // The proxy's admin has reads (metrics, comparisons) and no writes.
  const access = new AdminAccess(o.admin.host, o.admin.port, { readToken: o.adminReadToken, insecureNoToken: o.adminInsecureNoToken });
  const adminTls = o.adminTls && adminCertificates(o.adminTls, logger);
  const xdsFiles = o.xdsTls && xdsClientCertificates(o.xdsTls, logger);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // One subscription in this process, whatever the number of workers: each version goes to all of them.
  const { plane, metrics } = await hostDataPlane({ workers: o.workers ?? 1, logger: logger.child({ component: 'data-plane' }), registry });
  let applied = false;
  const subscriber = new EnvoyLikeSubscriber({
    target: o.xds,
    node: o.node,
    runtimeLayers: [RTDS_LAYER_NAME],
    ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
    ...(xdsFiles ? { credentials: channelCredentials(xdsFiles), channelOptions: serverNameOptions(o.xdsTls?.serverName) } : {}),
    apply: async (set) => {
      const r = await plane.apply(set, runtimeValuesFromLayers(set.runtime ?? []));
      if (r.ok) {
        applied = true;
        return undefined;
      }
      const e = r.error as { problems?: readonly ResourceProblem[] };
      return e.problems ? e.problems.map(formatResourceProblem).join('; ') : r.error.message;
    },
  });
  subscriber.on('rejected', (type, reason) => logger.warn({ type, reason }, 'rejected a config update (NACK); keeping the previous one'));
  subscriber.on('disconnected', (e) => logger.warn({ error: e?.message }, 'xDS stream ended; reconnecting'));
  // Loopback by default: readiness (once a config is applied), metrics and mirror response comparisons.
  const admin = new AdminServer({
    what: 'the proxy admin endpoint',
    metrics,
    logger: logger.child({ component: 'admin' }),
    notReady: () => (applied ? undefined : 'waiting for config'),
    comparisons: () => plane.comparisons(),
    access,
    ...(adminTls ? { tls: adminTls } : {}),
  });
  const adminPort = await admin.listen(o.admin.host, o.admin.port).catch(async (e: unknown) => {
    await plane.close();
    throw e;
  });
  subscriber.start();
  logger.info(
    { xds: o.xds, xdsTransport: !o.xdsTls ? 'plaintext' : o.xdsTls.certFile ? 'mutual TLS' : 'TLS', node: o.node.id, admin: `${o.admin.host}:${adminPort}`, adminReads: access.readsGuarded ? 'need a token' : 'open', workers: o.workers ?? 1 },
    'shadowplane proxy started',
  );
  return {
    plane,
    registry,
    metrics,
    subscriber,
    adminPort,
    async close() {
      subscriber.stop();
      await admin.close();
      await plane.close();
    },
  };
}
