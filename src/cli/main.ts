// Wires the commands to argv; no logic of its own. Each command's module is loaded when it runs, so
// a long-lived `serve` holds none of the others' code in memory.
import { parseArgs } from 'node:util';
import { InsecureAdminError } from '../server/admin-access.js';
import { ListenError } from '../server/listen-error.js';
import { SHADOWPLANE_VERSION } from '../server/version.js';
import { TlsFileError } from '../tls/certificate-files.js';
import { loadOptions } from './load-flags.js';
import { UsageError, type Io } from './output.js';


const USAGE = `usage:
  shadowplane --version
  shadowplane validate CONFIG... [IMPORT OPTIONS]
  shadowplane render CONFIG [--node ID] [--node-cluster C] [--format json|yaml] [IMPORT OPTIONS]
  shadowplane convert FILE... [IMPORT OPTIONS]
  shadowplane bootstrap --xds HOST:PORT[,HOST:PORT…] --node-id ID [--node-cluster C] [--admin-port P] [--delta] [--format yaml|json]
                        [--xds-ca F [--xds-client-cert F --xds-client-key F] [--xds-sni NAME]]
  shadowplane bootstrap --static CONFIG --node-id ID [--admin-port P] [--format yaml|json] [IMPORT OPTIONS]
  shadowplane serve --config CONFIG [--xds 127.0.0.1:18000] [--admin 127.0.0.1:19000] [--no-watch] [--log-level L]
                    [--xds-tls-cert F --xds-tls-key F [--xds-client-ca F [--xds-node-identity TEMPLATE]]]
                    [--admin-token-file F] [--admin-read-token-file F] [--admin-tls-cert F --admin-tls-key F]
                    [--admin-insecure-no-token] [--data-plane builtin|none [--workers N]] [--node-id ID] [--node-cluster C] [IMPORT OPTIONS]
  shadowplane get --config etcd://HOST:PORT[,HOST:PORT…]/KEY
  shadowplane apply FILE --config etcd://HOST:PORT[,HOST:PORT…]/KEY [--if-match REVISION] [IMPORT OPTIONS]
  shadowplane status [--admin URL] [--admin-ca F] [--admin-token-file F] [--format json] [--wait [--timeout 30s]]
  shadowplane proxy --xds HOST:PORT --node-id ID [--node-cluster C] [--admin 127.0.0.1:9902] [--workers N] [--log-level L]
                    [--xds-ca F [--xds-client-cert F --xds-client-key F] [--xds-sni NAME]]
                    [--admin-read-token-file F] [--admin-tls-cert F --admin-tls-key F] [--admin-insecure-no-token]
  shadowplane sandbox [--envoy [--mtls]] [--config CONFIG] [IMPORT OPTIONS]
  shadowplane demo-backend --name NAME --port PORT [--host H]

CONFIG is a file or a folder (every .yaml, .yml and .json file in it, read as one config): shadowplane's
own YAML, or Gateway API / Istio documents (multi-document YAML, kubectl get -o yaml output) or an
APISIX configuration, detected from apiVersion/kind or APISIX's layout. serve --config also takes
etcd://HOST:PORT[,HOST:PORT…]/KEY: the config is that etcd key (its path, / included), shared by replicas.
IMPORT OPTIONS:
  --from gateway-api|istio|apisix|shadowplane   accept only that format (default: detect)
  --listen-address IP[:PORT]   where imported listeners bind (default 0.0.0.0): Gateway and Istio
                               listeners on their own ports, APISIX on PORT (default 9080)
`;

const OPTIONS = {
  node: { type: 'string' },
  'node-id': { type: 'string' },
  'node-cluster': { type: 'string' },
  format: { type: 'string' },
  xds: { type: 'string' },
  'admin-port': { type: 'string' },
  delta: { type: 'boolean' },
  static: { type: 'string' },
  config: { type: 'string' },
  admin: { type: 'string' },
  'admin-token-file': { type: 'string' },
  'admin-read-token-file': { type: 'string' },
  'admin-insecure-no-token': { type: 'boolean' },
  'admin-tls-cert': { type: 'string' },
  'admin-tls-key': { type: 'string' },
  'admin-ca': { type: 'string' },
  'xds-tls-cert': { type: 'string' },
  'xds-tls-key': { type: 'string' },
  'xds-client-ca': { type: 'string' },
  'xds-node-identity': { type: 'string' },
  'xds-ca': { type: 'string' },
  'xds-client-cert': { type: 'string' },
  'xds-client-key': { type: 'string' },
  'xds-sni': { type: 'string' },
  mtls: { type: 'boolean' },
  'no-watch': { type: 'boolean' },
  'log-level': { type: 'string' },
  envoy: { type: 'boolean' },
  'data-plane': { type: 'string' },
  workers: { type: 'string' },
  name: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'listen-address': { type: 'string' },
  from: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  'if-match': { type: 'string' },
} as const;

const stdio: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    const [command, ...rest] = positionals;
    if (values.version) {
      io.out(`shadowplane ${SHADOWPLANE_VERSION}\n`);
      return 0;
    }
    if (values.help || command === undefined || command === 'help') {
      io.out(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    const load = { listenAddress: values['listen-address'], from: values.from };
    switch (command) {
      case 'validate':
        return await (await import('./validate.js')).validateCommand(rest, load, io);
      case 'render':
        return await (await import('./render.js')).renderCommand(rest, { node: values.node, nodeCluster: values['node-cluster'], format: values.format }, load, io);
      case 'convert':
        return await (await import('./convert.js')).convertCommand(rest, load, io);
      case 'bootstrap':
        if (rest.length > 0) throw new UsageError(`bootstrap takes no positional arguments (got "${rest[0]}")`);
        return await (await import('./bootstrap.js')).bootstrapCommand(
          {
            xds: values.xds,
            nodeId: values['node-id'],
            nodeCluster: values['node-cluster'],
            adminPort: values['admin-port'],
            delta: values.delta,
            static: values.static,
            format: values.format,
            xdsCa: values['xds-ca'],
            xdsClientCert: values['xds-client-cert'],
            xdsClientKey: values['xds-client-key'],
            xdsSni: values['xds-sni'],
          },
          load,
          io,
        );
      case 'serve':
        return await (await import('./serve.js')).serveCommand(
          {
            config: values.config ?? rest[0],
            xds: values.xds,
            admin: values.admin,
            adminTokenFile: values['admin-token-file'],
            adminReadTokenFile: values['admin-read-token-file'],
            adminInsecureNoToken: values['admin-insecure-no-token'],
            adminTlsCert: values['admin-tls-cert'],
            adminTlsKey: values['admin-tls-key'],
            xdsTlsCert: values['xds-tls-cert'],
            xdsTlsKey: values['xds-tls-key'],
            xdsClientCa: values['xds-client-ca'],
            xdsNodeIdentity: values['xds-node-identity'],
            watch: !values['no-watch'],
            logLevel: values['log-level'],
            dataPlane: values['data-plane'],
            workers: values.workers,
            nodeId: values['node-id'],
            nodeCluster: values['node-cluster'],
            load: loadOptions(load),
          },
          io,
        );
      case 'proxy':
        return await (await import('./proxy.js')).proxyCommand(
          {
            xds: values.xds,
            nodeId: values['node-id'],
            nodeCluster: values['node-cluster'],
            admin: values.admin,
            adminReadTokenFile: values['admin-read-token-file'],
            adminInsecureNoToken: values['admin-insecure-no-token'],
            adminTlsCert: values['admin-tls-cert'],
            adminTlsKey: values['admin-tls-key'],
            xdsCa: values['xds-ca'],
            xdsClientCert: values['xds-client-cert'],
            xdsClientKey: values['xds-client-key'],
            xdsSni: values['xds-sni'],
            workers: values.workers,
            logLevel: values['log-level'],
          },
          io,
        );
      case 'sandbox':
        return await (await import('./sandbox.js')).sandboxCommand({ envoy: values.envoy, mtls: values.mtls, config: values.config, load: loadOptions(load) }, io);
      case 'demo-backend':
        return await (await import('./sandbox.js')).demoBackendCommand({ name: values.name, port: values.port, host: values.host }, io);
      case 'get':
        if (rest.length > 0) throw new UsageError(`get takes no positional arguments (got "${rest[0]}")`);
        return await (await import('./config-store.js')).getCommand({ config: values.config }, loadOptions(load), io);
      case 'apply':
        return await (await import('./config-store.js')).applyCommand(rest, { config: values.config, ifMatch: values['if-match'] }, loadOptions(load), io);
      case 'status':
        return await (await import('./status.js')).statusCommand(
          { admin: values.admin, adminCa: values['admin-ca'], adminTokenFile: values['admin-token-file'], format: values.format, wait: values.wait, timeout: values.timeout },
          io,
        );
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`shadowplane: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    // Options that cannot be served as given: one line, no usage (the flags themselves were fine).
    if (e instanceof TlsFileError || e instanceof InsecureAdminError) {
      io.err(`shadowplane: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ListenError) {
      io.err(`shadowplane: ${e.message}\n`);
      return 1;
    }
    // Anything else is a bug: one line for the user, the stack on request.
    io.err(`shadowplane: internal error: ${(e as Error).message ?? String(e)}${process.env.SHADOWPLANE_DEBUG ? `\n${(e as Error).stack}` : ' (SHADOWPLANE_DEBUG=1 shows where)'}\n`);
    return 1;
  }
}
