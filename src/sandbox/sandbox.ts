// The sandbox: seed 000's walkthrough on one machine, no Docker. The control plane serves
// configs/sandbox.yaml; four demo services listen where its clusters point; the front proxy on :10000
// is the built-in TypeScript data path or (with --envoy) a real Envoy fed over ADS, with --mtls over
// mutual TLS with certificates from a CA made for the run.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import type { LoadOptions } from '../config/load.js';
import { formatDocument } from '../envoy-api/document-format.js';
import { adsBootstrap } from '../translate/bootstrap.js';
import { startServer, type RunningServer } from '../server/serve-process.js';
import { startDemoBackend, displayName, type DemoBackend } from './demo-backend.js';
import { EnvoyExitedError, EnvoyNotInstalledError, findEnvoy, startEnvoy } from './envoy-process.js';
import { PrefixedLog } from './log-stream.js';
import { REPO_ROOT } from './paths.js';
import { makeSandboxPki, SANDBOX_TRUST_DOMAIN, type SandboxPki } from './sandbox-pki.js';
/** Where envoy/bootstrap.yaml expects the control plane, and its admin port. */
export const SANDBOX_XDS = { host: '127.0.0.1', port: 18000 } as const;
export const SANDBOX_ADMIN = { host: '127.0.0.1', port: 19000 } as const;
export const SANDBOX_NODE = { id: 'sandbox-front', cluster: 'sandbox' } as const;
/** The admin port envoy/bootstrap.yaml gives the front Envoy. */
const SANDBOX_ENVOY_ADMIN_PORT = 9901;

export interface SandboxOptions {
  /** A config file or folder, in any format serve reads. */
  readonly config: string;
  readonly load?: LoadOptions;
  readonly envoy: boolean;
  /** With `envoy`: ADS over mutual TLS, the certificates made by a local CA for this run. */
  readonly mtls?: boolean;
  readonly write: (text: string) => void;
  readonly color: boolean;
}

export interface RunningSandbox {
  readonly frontPort: number;
  close(): Promise<void>;
}

function walkthrough(port: number, mode: string): string {
  const base = `localhost:${port}`;
  return `
shadowplane sandbox is up (front proxy: ${mode}). Seed 000's walkthrough:

  # Step 2-3: statically mirrored; service1 and service1-mirror both log the request,
  #           the mirror with Host: localhost-shadow:${port}
  curl ${base}/service/1
  → Hello from behind shadowplane (service 1)!

  # Step 4-5: mirrored to the cluster the header names (it must be in the route's allowlist)
  curl --header "x-mirror-cluster: service2-mirror" ${base}/service/2
  → Hello from behind shadowplane (service 2)!      (service2-mirror logs Host: localhost-shadow:${port})

  # Step 6: no header, or an unknown cluster: not mirrored (service2-mirror logs nothing new)
  curl ${base}/service/2
  curl --header "x-mirror-cluster: service2-mirror-non-existent" ${base}/service/2
  → Hello from behind shadowplane (service 2)!

  Edit the config (mirrors, percent, ...) and the next request follows it; after each edit run
    npx shadowplane status --wait      (returns once the front proxy has the edit; fails if it was rejected)
  Status page (proxies, versions, mirror traffic, live): http://${SANDBOX_ADMIN.host}:${SANDBOX_ADMIN.port}/
  Ctrl-C stops everything.
`;
}

function mtlsNotes(pki: SandboxPki): string {
  const f = (p: string): string => path.relative(pki.dir, p);
  return `
  Mutual TLS: a CA made for this run signed every certificate, in ${pki.dir}:
    ${f(pki.caFile)}  the CA; the control plane accepts only client certificates it issued
    ${f(pki.server.certFile)}  the control plane's (127.0.0.1, localhost)
    ${f(pki.envoy.certFile)}  Envoy's: URI spiffe://${SANDBOX_TRUST_DOMAIN}/node/${SANDBOX_NODE.id}, so it may be node ${SANDBOX_NODE.id}
  Envoy's bootstrap: ${path.join(pki.dir, 'envoy-bootstrap.yaml')}
  An impostor, with a valid certificate of another node, is refused (PERMISSION_DENIED) and gets nothing:
    npx shadowplane proxy --xds ${SANDBOX_XDS.host}:${SANDBOX_XDS.port} --node-id ${SANDBOX_NODE.id} --admin 127.0.0.1:9903 \\
      --xds-ca ${pki.caFile} --xds-client-cert ${pki.other.certFile} --xds-client-key ${pki.other.keyFile}
    curl -s ${SANDBOX_ADMIN.host}:${SANDBOX_ADMIN.port}/metrics | grep identity_rejections
`;
}

export async function startSandbox(o: SandboxOptions): Promise<RunningSandbox> {
  if (o.mtls && !o.envoy) throw new RangeError('mutual TLS secures the xDS connection of an Envoy front proxy: it needs envoy');
  const names = ['shadowplane', 'front-proxy', 'service1', 'service1-mirror', 'service2', 'service2-mirror'];
  const log = new PrefixedLog(names, o.write, o.color);
  const envoyBin = o.envoy ? findEnvoy({ searchPath: true }) : undefined;
  if (o.envoy && !envoyBin) throw new EnvoyNotInstalledError();

  const cleanups: Array<() => Promise<void> | void> = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const logger = pino({ level: 'info' }, log.pinoDestination('shadowplane'));
    const frontLogger = pino({ level: 'info' }, log.pinoDestination('front-proxy'));
    const pki = o.mtls ? await makeSandboxPki(SANDBOX_NODE.id) : undefined;
    if (pki) cleanups.push(() => rm(pki.dir, { recursive: true, force: true }));
    // Without --envoy the front proxy is the built-in data plane inside the control plane, as node sandbox-front.
    const server: RunningServer | undefined = await startServer(
      {
        configFile: o.config,
        xds: SANDBOX_XDS,
        admin: SANDBOX_ADMIN,
        adminToken: undefined,
        watch: true,
        ...(o.load ? { load: o.load } : {}),
        ...(pki ? { xdsTls: { ...pki.server, clientCaFile: pki.caFile } } : {}),
        ...(envoyBin ? {} : { builtinDataPlane: { nodeId: SANDBOX_NODE.id, nodeCluster: SANDBOX_NODE.cluster } }),
      },
      logger,
      frontLogger,
    );
    if (!server) throw new Error(`${o.config} is not a valid config (see above)`);
    cleanups.push(() => server.close());
    const model = server.controlPlane.model!;

    const backends: DemoBackend[] = [];
    for (const c of model.clusters) {
      const e = c.endpoints[0];
      if (!e || (e.host !== '127.0.0.1' && e.host !== 'localhost')) continue;
      backends.push(await startDemoBackend(c.name, e.port, (l) => log.line(c.name, l)));
      log.line(c.name, `listening on 127.0.0.1:${e.port} as "${displayName(c.name)}"`);
    }
    cleanups.push(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));

    const frontPort = model.listeners[0]?.port ?? 10000;
    if (envoyBin) {
      let bootstrapFile = path.join(REPO_ROOT, 'envoy/bootstrap.yaml');
      if (pki) {
        // envoy/bootstrap.yaml's, with the xDS cluster over mutual TLS.
        bootstrapFile = path.join(pki.dir, 'envoy-bootstrap.yaml');
        const tls = { caFile: pki.caFile, certFile: pki.envoy.certFile, keyFile: pki.envoy.keyFile };
        await writeFile(bootstrapFile, formatDocument(adsBootstrap({ xds: `${SANDBOX_XDS.host}:${SANDBOX_XDS.port}`, nodeId: SANDBOX_NODE.id, nodeCluster: SANDBOX_NODE.cluster, adminPort: SANDBOX_ENVOY_ADMIN_PORT, tls }), 'yaml'));
      }
      const envoy = await startEnvoy(envoyBin, {
        bootstrapFile,
        adminPort: SANDBOX_ENVOY_ADMIN_PORT,
        baseId: 9,
        logLevel: 'warning',
        onLine: (l) => log.line('front-proxy', l),
      }).catch((e: unknown) => {
        throw e instanceof EnvoyExitedError ? new Error(`Envoy exited with ${e.exitCode} (is port ${frontPort} or ${SANDBOX_ENVOY_ADMIN_PORT} in use?)`) : e;
      });
      cleanups.push(() => envoy.stop());
      log.line('front-proxy', `Envoy ${envoyBin} is serving, configured over ADS${pki ? ' (mutual TLS)' : ''} from ${SANDBOX_XDS.host}:${SANDBOX_XDS.port}`);
    }
    o.write(walkthrough(frontPort, envoyBin ? `real Envoy${pki ? ', ADS over mutual TLS' : ''}` : 'built-in TypeScript engine'));
    if (pki) o.write(mtlsNotes(pki));
    return { frontPort, close };
  } catch (e) {
    await close();
    throw e;
  }
}
