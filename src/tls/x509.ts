// @peculiar/x509 (X.509 parsing and issuing on WebCrypto), loaded on first use: it costs a few hundred
// milliseconds at startup, and only processes that check client certificates or make a local CA need it.
import { webcrypto } from 'node:crypto';

export type X509 = typeof import('@peculiar/x509');

let loaded: Promise<X509> | undefined;

export function loadX509(): Promise<X509> {
  loaded ??= (async () => {
    // Its dependency injection (tsyringe) needs the Reflect metadata API, which Node lacks.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return loaded;
}
