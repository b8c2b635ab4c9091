// The sandbox's certificates for `--envoy --mtls`, made fresh in a temp dir by a local CA: the control
// plane's server certificate (127.0.0.1, localhost), Envoy's client certificate for its node id, and a
// certificate for another node, to watch an impostor be refused.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalCa, writePemFiles, type PemFiles } from '../tls/local-ca.js';

export const SANDBOX_TRUST_DOMAIN = 'shadowplane.sandbox';

export interface SandboxPki {
  readonly dir: string;
  readonly caFile: string;
  readonly server: PemFiles;
  /** The front Envoy's: URI spiffe://shadowplane.sandbox/node/NODE and DNS NODE. */
  readonly envoy: PemFiles;
  /** A valid certificate of the same CA for node `other-node`, which cannot claim the front proxy's id. */
  readonly other: PemFiles;
}

export async function makeSandboxPki(nodeId: string): Promise<SandboxPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-sandbox-mtls-'));
  const ca = await LocalCa.create('shadowplane sandbox CA');
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const client = (id: string) => ca.issue({ commonName: id, usage: 'client', dns: [id], uris: [`spiffe://${SANDBOX_TRUST_DOMAIN}/node/${id}`] });
  return {
    dir,
    caFile,
    server: await writePemFiles(dir, 'control-plane', await ca.issue({ commonName: 'shadowplane control plane', usage: 'server', dns: ['localhost'], ips: ['127.0.0.1', '::1'] })),
    envoy: await writePemFiles(dir, nodeId, await client(nodeId)),
    other: await writePemFiles(dir, 'other-node', await client('other-node')),
  };
}
