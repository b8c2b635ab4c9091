import path from 'node:path';
import type { LoadOptions } from '../config/load.js';
import { startDemoBackend } from '../sandbox/demo-backend.js';
import { EnvoyNotInstalledError } from '../sandbox/envoy-process.js';
import { REPO_ROOT } from '../sandbox/paths.js';
import { startSandbox } from '../sandbox/sandbox.js';
import { UsageError, type Io } from './output.js';
import { untilSignal } from './signals.js';

/** `shadowplane sandbox [--envoy [--mtls]] [--config FILE]` */
export async function sandboxCommand(o: { envoy?: boolean; mtls?: boolean; config?: string; load?: LoadOptions }, io: Io): Promise<number> {
  if (o.mtls && !o.envoy) throw new UsageError('--mtls needs --envoy (the built-in front proxy runs inside the control plane, with no xDS connection to secure)');
  let sandbox;
  try {
    sandbox = await startSandbox({
      config: o.config ?? path.join(REPO_ROOT, 'configs/sandbox.yaml'),
      envoy: o.envoy ?? false,
      ...(o.load ? { load: o.load } : {}),
      mtls: o.mtls ?? false,
      write: (t) => io.out(t),
      color: process.stdout.isTTY === true,
    });
  } catch (e) {
    if (e instanceof EnvoyNotInstalledError) {
      io.err(`shadowplane: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  await untilSignal();
  io.out('\nstopping the sandbox…\n');
  await sandbox.close();
  return 0;
}

/** `shadowplane demo-backend --name N --port P [--host H]`: one demo service (docker-compose runs these). */
export async function demoBackendCommand(o: { name?: string; port?: string; host?: string }, io: Io): Promise<number> {
  const port = Number(o.port);
  if (!o.name || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('demo-backend needs --name NAME --port PORT');
  const b = await startDemoBackend(o.name, port, (l) => io.out(`${l}\n`), o.host ?? '127.0.0.1');
  io.out(`${o.name} listening on ${o.host ?? '127.0.0.1'}:${b.port}\n`);
  await untilSignal();
  await b.close();
  return 0;
}
