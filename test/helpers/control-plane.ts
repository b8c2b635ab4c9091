// A shadowplane control plane in the test process, on loopback ports, with a config file it watches.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../src/server/serve-process.js';

export interface TestControlPlane extends RunningServer {
  readonly dir: string;
  readonly configFile: string;
  /** Replaces the config file the way editors do (write a temp file, rename over). */
  edit(text: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startControlPlane(
  configText: string,
  o: { xdsPort?: number; dir?: string; token?: string; dataPlane?: 'builtin' } = {},
): Promise<TestControlPlane> {
  const dir = o.dir ?? (await mkdtemp(path.join(tmpdir(), 'shadowplane-cp-')));
  const configFile = path.join(dir, 'shadowplane.yaml');
  await writeFile(configFile, configText);
  const logger = pino({ level: process.env.SHADOWPLANE_TEST_LOG ?? 'silent' });
  const server = await startServer(
    {
      configFile,
      xds: { host: '127.0.0.1', port: o.xdsPort ?? 0 },
      admin: { host: '127.0.0.1', port: 0 },
      adminToken: o.token,
      watch: true,
      ...(o.dataPlane === 'builtin' ? { builtinDataPlane: {} } : {}),
    },
    logger,
  );
  if (!server) throw new Error('test config was rejected');
  let n = 0;
  return {
    ...server,
    dir,
    configFile,
    async edit(text: string) {
      const tmp = path.join(dir, `.edit-${++n}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, configFile);
    },
    async stop() {
      await server.close();
      if (!o.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
