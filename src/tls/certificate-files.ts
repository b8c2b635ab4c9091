// Certificate, key and CA files, re-read while the process runs: grpc-js's
// FileWatcherCertificateProvider polls them, and this provider stands between it and the TLS servers
// and clients that use them. Each read is checked before use (the certificate parses, the key is the
// certificate's, the CA parses); a broken or half-written rotation keeps the last good files instead
// of failing new handshakes, and unchanged files are not applied again. Established connections keep
// the certificate they were made with.
import { experimental } from '@grpc/grpc-js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

type CertificateProvider = experimental.CertificateProvider;
type IdentityUpdate = experimental.IdentityCertificateUpdate;
type CaUpdate = experimental.CaCertificateUpdate;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

export interface CertificateFileNames {
  /** PEM certificate (chain) and its private key: this side's identity. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** PEM CA certificates that verify the other side. */
  readonly caFile?: string;
}

/** How often the files are read again; a rotation takes effect within this. */
export const DEFAULT_REFRESH_MS = 1000;

/** A certificate, key or CA file that cannot be used; `what` names its role ("xDS server certificate"). */
export class TlsFileError extends Error {
  override name = 'TlsFileError';
  constructor(
    readonly file: string,
    readonly what: string,
    problem: string,
  ) {
    super(`cannot use ${file} as the ${what}: ${problem}`);
  }
}

/** Why a certificate and key cannot be used together, or undefined when they can. */
function pairProblem(cert: Buffer, key: Buffer): { file: 'cert' | 'key'; problem: string } | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    return { file: 'cert', problem: `not a PEM certificate (${(e as Error).message})` };
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    return { file: 'key', problem: `not a PEM private key (${(e as Error).message})` };
  }
  if (!x509.checkPrivateKey(privateKey)) return { file: 'key', problem: 'the key does not belong to the certificate' };
  return undefined;
}

function caProblem(ca: Buffer): string | undefined {
  try {
    new X509Certificate(ca);
    return undefined;
  } catch (e) {
    return `not a PEM certificate (${(e as Error).message})`;
  }
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TlsFileError(file, what, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

const UNREADABLE_IDENTITY = Buffer.from('unreadable certificate or key');
const UNREADABLE_CA = Buffer.from('unreadable CA');

export interface CertificateFilesOptions {
  /** For messages: `${role} certificate`, `${role} private key`. */
  readonly role: string;
  /** For messages about the CA file; default `${role} CA certificates`. */
  readonly caRole?: string;
  readonly refreshMs?: number;
  readonly logger?: Logger;
}

export class CertificateFiles implements CertificateProvider {
  private identity: IdentityUpdate | undefined;
  private ca: CaUpdate | undefined;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly watcher: experimental.FileWatcherCertificateProvider;
  private readonly onIdentity = (u: IdentityUpdate | null): void => this.identityRead(u);
  private readonly onCa = (u: CaUpdate | null): void => this.caRead(u);
  private watching = false;
  /** What was last refused, so that files left broken are reported once, not at every read. */
  private refused: Buffer | undefined;

  /** Reads and checks the files once; throws TlsFileError when they cannot be used. */
  constructor(
    readonly files: CertificateFileNames,
    private readonly o: CertificateFilesOptions,
  ) {
    if ((files.certFile === undefined) !== (files.keyFile === undefined)) throw new RangeError('certFile and keyFile go together');
    if (files.certFile !== undefined && files.keyFile !== undefined) {
      const update = { certificate: read(files.certFile, this.what('cert')), privateKey: read(files.keyFile, this.what('key')) };
      const p = pairProblem(update.certificate, update.privateKey);
      if (p) throw new TlsFileError(p.file === 'cert' ? files.certFile : files.keyFile, this.what(p.file), p.problem);
      this.identity = update;
    }
    if (files.caFile !== undefined) {
      const caCertificate = read(files.caFile, this.what('ca'));
      const p = caProblem(caCertificate);
      if (p) throw new TlsFileError(files.caFile, this.what('ca'), p);
      this.ca = { caCertificate };
    }
    this.watcher = new experimental.FileWatcherCertificateProvider({
      certificateFile: files.certFile,
      privateKeyFile: files.keyFile,
      caCertificateFile: files.caFile,
      refreshIntervalMs: o.refreshMs ?? DEFAULT_REFRESH_MS,
    });
  }

  private get caRole(): string {
    return this.o.caRole ?? `${this.o.role} CA certificates`;
  }

  private what(file: 'cert' | 'key' | 'ca'): string {
    return file === 'ca' ? this.caRole : `${this.o.role} ${file === 'cert' ? 'certificate' : 'private key'}`;
  }

  /** The certificate and key now in use. */
  get keyPair(): { readonly cert: Buffer; readonly key: Buffer } | undefined {
    return this.identity && { cert: this.identity.certificate, key: this.identity.privateKey };
  }

  private identityRead(u: IdentityUpdate | null): void {
    const files = `${this.files.certFile} and ${this.files.keyFile}`;
    if (!u) return this.refuse(UNREADABLE_IDENTITY, { files }, `cannot read the ${this.o.role} certificate or key; keeping the previous ones`);
    if (this.identity && u.certificate.equals(this.identity.certificate) && u.privateKey.equals(this.identity.privateKey)) return;
    const p = pairProblem(u.certificate, u.privateKey);
    // A rotation that replaces the two files one after the other is caught in between: the next read settles it.
    if (p) return this.refuse(Buffer.concat([u.certificate, u.privateKey]), { files, problem: p.problem }, `the new ${this.o.role} certificate and key cannot be used; keeping the previous ones`);
    this.identity = u;
    this.refused = undefined;
    const cert = new X509Certificate(u.certificate);
    this.o.logger?.info({ files, serial: cert.serialNumber, subject: cert.subject, validTo: cert.validTo }, `${this.o.role} certificate reloaded`);
    for (const l of this.identityListeners) l(u);
  }

  private caRead(u: CaUpdate | null): void {
    if (!u) return this.refuse(UNREADABLE_CA, { file: this.files.caFile }, `cannot read the ${this.caRole}; keeping the previous ones`);
    if (this.ca && u.caCertificate.equals(this.ca.caCertificate)) return;
    const p = caProblem(u.caCertificate);
    if (p) return this.refuse(u.caCertificate, { file: this.files.caFile, problem: p }, `the new ${this.caRole} cannot be used; keeping the previous ones`);
    this.ca = u;
    this.refused = undefined;
    this.o.logger?.info({ file: this.files.caFile }, `${this.caRole} reloaded`);
    for (const l of this.caListeners) l(u);
  }

  private refuse(content: Buffer, fields: object, message: string): void {
    if (this.refused?.equals(content)) return;
    this.refused = content;
    this.o.logger?.warn(fields, message);
  }

  /** The watcher polls the files only while someone listens. */
  private watch(): void {
    const listening = this.identityListeners.size + this.caListeners.size > 0;
    if (listening === this.watching) return;
    this.watching = listening;
    if (this.files.certFile !== undefined) {
      if (listening) this.watcher.addIdentityCertificateListener(this.onIdentity);
      else this.watcher.removeIdentityCertificateListener(this.onIdentity);
    }
    if (this.files.caFile !== undefined) {
      if (listening) this.watcher.addCaCertificateListener(this.onCa);
      else this.watcher.removeCaCertificateListener(this.onCa);
    }
  }

  /** Delivers what is current asynchronously, as grpc-js's own providers do: callers attach the listener before they are ready for it. */
  private listen<U>(listeners: Set<(u: U | null) => void>, listener: (u: U | null) => void, current: U | undefined): void {
    listeners.add(listener);
    this.watch();
    process.nextTick(() => {
      if (listeners.has(listener)) listener(current ?? null);
    });
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.listen(this.identityListeners, listener, this.identity);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.watch();
  }

  addCaCertificateListener(listener: CaListener): void {
    this.listen(this.caListeners, listener, this.ca);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.watch();
  }
}
