// `shadowplane serve` as one call: the control plane (config file, snapshot cache, ADS server), its
// admin endpoint and, if asked, the built-in data plane in the same process. Options come parsed;
// flags, their defaults and signals belong to cli/serve.ts.
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { HostPort } from '../config/address.js';
import type { LoadOptions } from '../config/load.js';
import { DEFAULT_NODE_CLUSTER } from '../translate/bootstrap.js';
import { DEFAULT_NODE_IDENTITY_RULE } from '../tls/node-identity.js';
import { AdminAccess } from './admin-access.js';
import { AdminServer } from './admin-server.js';
import type { BuiltinDataPlaneFeed } from './builtin-data-plane.js';
import { controlPlaneRoutes } from './control-plane-admin.js';
import { registryMetrics, type MetricsSource } from './metrics-source.js';
import { ControlPlane } from './control-plane.js';
import { MirrorStats } from './mirror-stats.js';
import { STATUS_PAGE_PUBLIC_ROUTES, statusPageRoutes } from './status-page.js';
import { adminCertificates, xdsSecurity, type TlsFiles, type XdsTls } from './tls-setup.js';
import { SHADOWPLANE_VERSION } from './version.js';

/** The node the built-in data plane is served as, unless told otherwise. */
export const BUILTIN_NODE_ID = 'builtin';

export interface ServerOptions {
  /** A config file, or a folder of files read as one config. */
  readonly configFile: string;
  /** How the config is read: --from and --listen-address for imported formats. */
  readonly load?: LoadOptions;
  /** Where ADS and the admin endpoint listen; port 0 takes any free port. */
  readonly xds: HostPort;
  readonly admin: HostPort;
  /** Bearer token for PUT /config; undefined refuses it. */
  readonly adminToken: string | undefined;
  /** Bearer token for the admin's reads (/status, /config_dump, /metrics, …); see admin-access.ts. */
  readonly adminReadToken?: string;
  /** Serve an admin address beyond loopback without any token. */
  readonly adminInsecureNoToken?: boolean;
  /** HTTPS on the admin address. */
  readonly adminTls?: TlsFiles;
  /** TLS on the xDS port; with a client CA, mutual TLS with each stream's node bound to the client certificate. */
  readonly xdsTls?: XdsTls;
  /** Follow edits of the config file. */
  readonly watch: boolean;
  /**
   * Also run the built-in data plane, fed what this node would be served: in this process, or with
   * `workers` > 1 on that many worker processes sharing its listeners (default 1).
   */
  readonly builtinDataPlane?: { readonly nodeId?: string; readonly nodeCluster?: string; readonly workers?: number };
}

export interface RunningServer {
  readonly controlPlane: ControlPlane;
  /** This process's metrics: the control plane's, and the in-process data plane's. */
  readonly registry: Registry;
  /** What /metrics serves: the registry's, with the data-plane workers' aggregated in. */
  readonly metrics: MetricsSource;
  readonly admin: AdminServer;
  readonly xdsPort: number;
  readonly adminPort: number;
  close(): Promise<void>;
}

/**
 * Starts the control plane; resolves once it serves, or undefined when the config is invalid (every
 * problem logged). `dataPlaneLogger` gives the built-in data plane a logger of its own (the sandbox
 * prefixes it apart).
 */
export async function startServer(o: ServerOptions, logger: Logger, dataPlaneLogger = logger.child({ component: 'data-plane' })): Promise<RunningServer | undefined> {
  // Everything that can refuse the options is checked before anything binds.
  const access = new AdminAccess(o.admin.host, o.admin.port, { writeToken: o.adminToken, readToken: o.adminReadToken, insecureNoToken: o.adminInsecureNoToken });
  const adminTls = o.adminTls && adminCertificates(o.adminTls, logger);
  const xds = o.xdsTls && (await xdsSecurity(o.xdsTls, logger));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const controlPlane = new ControlPlane({ configFile: o.configFile, logger, registry, ...(o.load ? { load: o.load } : {}), ...(xds ? { xdsSecurity: xds } : {}) });
  const xdsTarget = o.xds.host.includes(':') ? `[${o.xds.host}]:${o.xds.port}` : `${o.xds.host}:${o.xds.port}`;
  if (!(await controlPlane.start({ xds: xdsTarget, watch: o.watch }))) return undefined;
  // Created before the admin, which serves its comparisons; it binds nothing until fed a config.
  // Loaded only when asked for: a control plane alone keeps the data path's modules out of its memory.
  const dataPlane = o.builtinDataPlane && (await Promise.all([import('./hosted-data-plane.js'), import('./builtin-data-plane.js')]));
  const hosted = o.builtinDataPlane && dataPlane ? await dataPlane[0].hostDataPlane({ workers: o.builtinDataPlane.workers ?? 1, logger: dataPlaneLogger, registry }) : undefined;
  const plane = hosted?.plane;
  const metrics = hosted?.metrics ?? registryMetrics(registry);
  const feed: BuiltinDataPlaneFeed | undefined = plane && dataPlane
    ? new dataPlane[1].BuiltinDataPlaneFeed(
        controlPlane.cache,
        plane,
        {
          id: o.builtinDataPlane?.nodeId ?? BUILTIN_NODE_ID,
          cluster: o.builtinDataPlane?.nodeCluster ?? DEFAULT_NODE_CLUSTER,
          envoyVersion: undefined,
          userAgent: 'shadowplane',
          userAgentVersion: SHADOWPLANE_VERSION,
        },
        controlPlane.ads.proxies,
        dataPlaneLogger,
        o.builtinDataPlane?.workers ?? 1,
      )
    : undefined;
  const mirrorStats = new MirrorStats({ model: () => controlPlane.model, metrics: plane ? metrics : undefined });
  const admin = new AdminServer({
    metrics,
    logger: logger.child({ component: 'admin' }),
    notReady: () => (controlPlane.cache.ready && controlPlane.ads.port > 0 ? feed?.problem() : 'no config served yet'),
    routes: { ...controlPlaneRoutes({ controlPlane }), ...statusPageRoutes(mirrorStats) },
    publicRoutes: STATUS_PAGE_PUBLIC_ROUTES,
    access,
    ...(adminTls ? { tls: adminTls } : {}),
    ...(plane ? { comparisons: () => plane.comparisons() } : {}),
  });
  const adminPort = await admin.listen(o.admin.host, o.admin.port).catch(async (e: unknown) => {
    mirrorStats.close();
    await plane?.close();
    await controlPlane.close();
    throw e;
  });
  logger.info(
    {
      xds: `${o.xds.host}:${controlPlane.ads.port}`,
      xdsTransport: !o.xdsTls ? 'plaintext' : o.xdsTls.clientCaFile ? 'mutual TLS' : 'TLS',
      ...(o.xdsTls?.clientCaFile ? { nodeIdentity: (o.xdsTls.nodeIdentity ?? DEFAULT_NODE_IDENTITY_RULE).description } : {}),
      admin: `${adminTls ? 'https' : 'http'}://${o.admin.host.includes(':') ? `[${o.admin.host}]` : o.admin.host}:${adminPort}`,
      adminReads: access.readsGuarded ? 'need a token' : 'open',
      ...(o.builtinDataPlane ? { dataPlaneWorkers: o.builtinDataPlane.workers ?? 1 } : {}),
    },
    'shadowplane serving',
  );
  const closers: Array<() => Promise<void> | void> = [];
  if (feed && plane) {
    await feed.start();
    closers.push(() => feed.stop(), () => plane.close());
  }
  return {
    controlPlane,
    registry,
    metrics,
    admin,
    xdsPort: controlPlane.ads.port,
    adminPort,
    async close() {
      for (const c of closers.reverse()) await c();
      await admin.close();
      mirrorStats.close();
      await controlPlane.close();
    },
  };
}
