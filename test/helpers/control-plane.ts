// A shadowplane control plane in the test process, on loopback ports, with a config file (or a
// folder of files, in any format it imports) that it watches.
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { LoadOptions } from '../../src/config/load.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/serve-process.js';

export interface TestControlPlane extends RunningServer {
  readonly dir: string;
  /** The config file, or the config folder when started with files. */
  readonly configFile: string;
  /** Replaces the config file (or, with `name`, that file of the folder) the way editors do: write a temp file, rename over. */
  edit(text: string, name?: string): Promise<void>;
  /** Removes a file of the config folder. */
  remove(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Config files by name: the control plane reads them as one folder. */
export type ConfigFiles = Readonly<Record<string, string>>;

export async function startControlPlane(
  config: string | ConfigFiles,
  o: { xdsPort?: number; dir?: string; token?: string; dataPlane?: 'builtin'; load?: LoadOptions; server?: Partial<ServerOptions>; logger?: Logger } = {},
): Promise<TestControlPlane> {
  const dir = o.dir ?? (await mkdtemp(path.join(tmpdir(), 'shadowplane-cp-')));
  const folder = typeof config !== 'string';
  const configFile = path.join(dir, folder ? 'config' : 'shadowplane.yaml');
  if (folder) {
    await mkdir(configFile, { recursive: true });
    for (const [name, text] of Object.entries(config)) await writeFile(path.join(configFile, name), text);
  } else {
    await writeFile(configFile, config);
  }
  const logger = o.logger ?? pino({ level: process.env.SHADOWPLANE_TEST_LOG ?? 'silent' });
  const server = await startServer(
    {
      configFile,
      xds: { host: '127.0.0.1', port: o.xdsPort ?? 0 },
      admin: { host: '127.0.0.1', port: 0 },
      adminToken: o.token,
      watch: true,
      ...(o.dataPlane === 'builtin' ? { builtinDataPlane: {} } : {}),
      ...(o.load ? { load: o.load } : {}),
      ...o.server,
    },
    logger,
  );
  if (!server) throw new Error('test config was rejected');
  let n = 0;
  return {
    ...server,
    dir,
    configFile,
    async edit(text: string, name?: string) {
      const target = name === undefined ? configFile : path.join(configFile, name);
      const tmp = path.join(path.dirname(target), `.edit-${++n}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, target);
    },
    async remove(name: string) {
      await unlink(path.join(configFile, name));
    },
    async stop() {
      await server.close();
      if (!o.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
