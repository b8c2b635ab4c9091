// The identities a certificate names: its DNS and URI subject alternative names, read from the DER
// structure (not from Node's `subjectaltname` text, whose escaping a hostile name could play with).
import { loadX509 } from './x509.js';

export interface CertificateIdentities {
  readonly dns: readonly string[];
  readonly uris: readonly string[];
}

export const NO_IDENTITIES: CertificateIdentities = { dns: [], uris: [] };

/** `DNS:a`, `URI:spiffe://…`: for logs and refusals. */
export function formatIdentities(ids: CertificateIdentities): string[] {
  return [...ids.dns.map((d) => `DNS:${d}`), ...ids.uris.map((u) => `URI:${u}`)];
}

export type IdentityReader = (der: Buffer) => CertificateIdentities;

/** A synchronous reader, once the X.509 library is loaded. A certificate that does not parse names no one. */
export async function loadIdentityReader(): Promise<IdentityReader> {
  const x509 = await loadX509();
  return (der) => {
    let names;
    try {
      names = new x509.X509Certificate(new Uint8Array(der)).getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
    } catch {
      return NO_IDENTITIES;
    }
    return { dns: names.filter((n) => n.type === 'dns').map((n) => n.value), uris: names.filter((n) => n.type === 'url').map((n) => n.value) };
  };
}
