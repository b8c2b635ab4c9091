// Certificates made for one test run by local CAs (src/tls/local-ca.ts), written to a temp dir: the
// control plane's server certificate (127.0.0.1, ::1, localhost), client certificates for two node
// ids, an expired one, and one from another CA. Each client certificate names its node both ways the
// default identity rule reads: DNS NODE and URI spiffe://shadowplane.test/node/NODE.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalCa, writePemFiles, type CertificateRequest, type PemFiles } from '../../src/tls/local-ca.js';

export const TRUST_DOMAIN = 'shadowplane.test';

export interface TestPki {
  readonly dir: string;
  readonly ca: LocalCa;
  readonly caFile: string;
  readonly server: PemFiles;
  /** Valid client certificates for nodes `node-a` and `node-b`. */
  readonly nodeA: PemFiles;
  readonly nodeB: PemFiles;
  /** For `node-a`, but expired yesterday. */
  readonly expiredA: PemFiles;
  /** For `node-a`, from a CA the control plane does not trust. */
  readonly foreignA: PemFiles;
  /** Issues another certificate from the test CA into `dir/name*.pem`. */
  issue(name: string, r: CertificateRequest): Promise<PemFiles>;
  /** Replaces `files` with a new server certificate and key the way a rotation does (write aside, rename over); returns its SHA-256 fingerprint. */
  rotateServer(files: PemFiles): Promise<string>;
  remove(): Promise<void>;
}

const DAY = 24 * 3600_000;

export function clientRequest(node: string): CertificateRequest {
  return { commonName: node, usage: 'client', dns: [node], uris: [`spiffe://${TRUST_DOMAIN}/node/${node}`] };
}

export const SERVER_REQUEST: CertificateRequest = { commonName: 'shadowplane control plane', usage: 'server', dns: ['localhost'], ips: ['127.0.0.1', '::1'] };

/** The SHA-256 fingerprint of a PEM certificate, as TLSSocket.getPeerCertificate() gives it. */
export function fingerprint(certPem: string | Buffer): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** The certificate a TLS server on loopback `port` presents to a new connection (its SHA-256 fingerprint), verified with `caFile`; `client` is presented when given. */
export function servedCertificate(port: number, caFile: string, client?: PemFiles): Promise<string> {
  return new Promise((resolve, reject) => {
    const identity = client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {};
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(caFile), ...identity, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-pki-'));
  const ca = await LocalCa.create('shadowplane test CA');
  const foreign = await LocalCa.create('some other CA');
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  let rotations = 0;
  return {
    dir,
    ca,
    caFile,
    server: await writePemFiles(dir, 'server', await ca.issue(SERVER_REQUEST)),
    nodeA: await writePemFiles(dir, 'node-a', await ca.issue(clientRequest('node-a'))),
    nodeB: await writePemFiles(dir, 'node-b', await ca.issue(clientRequest('node-b'))),
    expiredA: await writePemFiles(dir, 'expired-a', await ca.issue({ ...clientRequest('node-a'), notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) })),
    foreignA: await writePemFiles(dir, 'foreign-a', await foreign.issue(clientRequest('node-a'))),
    issue: async (name, r) => writePemFiles(dir, name, await ca.issue(r)),
    async rotateServer(files) {
      const next = await writePemFiles(dir, `rotation-${++rotations}`, await ca.issue(SERVER_REQUEST));
      await rename(next.keyFile, files.keyFile);
      await rename(next.certFile, files.certFile);
      return fingerprint(await readFile(files.certFile));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
