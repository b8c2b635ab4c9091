// A small certificate authority made on the spot, for the sandbox's `--mtls` and the tests: ECDSA
// P-256 keys, a CA certificate, and server and client certificates with the names asked for.
import { randomBytes, webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadX509, type X509 } from './x509.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

export interface CertificateRequest {
  readonly commonName: string;
  readonly dns?: readonly string[];
  readonly uris?: readonly string[];
  readonly ips?: readonly string[];
  /** What the certificate is for (its extended key usage). */
  readonly usage: 'server' | 'client';
  /** Default: an hour ago (clock skew) to 30 days from now. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface PemFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A positive 128-bit serial number, in hex. */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex').toUpperCase();
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(x509: X509, key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

export class LocalCa {
  private constructor(
    private readonly x509: X509,
    private readonly cert: InstanceType<X509['X509Certificate']>,
    private readonly keys: CryptoKeyPair,
    readonly certPem: string,
  ) {}

  /** A new CA, valid from an hour ago for 30 days. */
  static async create(commonName: string): Promise<LocalCa> {
    const x509 = await loadX509();
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: `CN=${commonName}`,
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + 30 * DAY),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new LocalCa(x509, cert, keys, cert.toString('pem'));
  }

  async issue(r: CertificateRequest): Promise<IssuedCertificate> {
    const x509 = this.x509;
    const keys = await keyPair();
    const names = [...(r.dns ?? []).map((value) => ({ type: 'dns' as const, value })), ...(r.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(r.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: `CN=${r.commonName}`,
      issuer: this.cert.subject,
      notBefore: r.notBefore ?? new Date(Date.now() - HOUR),
      notAfter: r.notAfter ?? new Date(Date.now() + 30 * DAY),
      signingKey: this.keys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([r.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(x509, keys.privateKey) };
  }
}

/** Writes `dir/name.pem` and `dir/name-key.pem` (the key readable by its owner only). */
export async function writePemFiles(dir: string, name: string, c: IssuedCertificate): Promise<PemFiles> {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  await writeFile(certFile, c.certPem);
  await writeFile(keyFile, c.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}
