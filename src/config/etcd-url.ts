// `etcd://HOST:PORT[,HOST:PORT…]/KEY`: the members of an etcd cluster to ask (any of them answers)
// and the key that holds the config. The key is the URL's path, its leading `/` included, as etcd keys
// are usually written: etcd://127.0.0.1:2379/shadowplane/config is the key /shadowplane/config.
import { parseHostPort, type HostPort } from './address.js';

export interface EtcdLocation {
  /** The URL as given. */
  readonly url: string;
  readonly endpoints: readonly HostPort[];
  readonly key: string;
}

/** A --config etcd:// URL that cannot be used; the message says what to write instead. */
export class EtcdUrlError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${url}: ${reason} (write etcd://HOST:PORT[,HOST:PORT…]/KEY)`);
    this.name = 'EtcdUrlError';
  }
}

const SCHEME = /^etcd:\/\//i;

/** A --config value that names an etcd key rather than a file. */
export function isEtcdUrl(text: string): boolean {
  return SCHEME.test(text);
}

export function formatEndpoint(e: HostPort): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function parseEtcdUrl(url: string): EtcdLocation {
  if (!isEtcdUrl(url)) throw new EtcdUrlError(url, 'not an etcd:// URL');
  const rest = url.replace(SCHEME, '');
  if (/[?#]/.test(rest)) throw new EtcdUrlError(url, 'a query or fragment (? or #) is not part of an etcd key');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash);
  if (authority.includes('@')) throw new EtcdUrlError(url, 'user names and passwords are not supported');
  if (authority === '') throw new EtcdUrlError(url, 'no etcd endpoint');
  const endpoints: HostPort[] = [];
  for (const part of authority.split(',')) {
    const hp = parseHostPort(part);
    if (!hp) throw new EtcdUrlError(url, `endpoint "${part}" is not HOST:PORT`);
    if (endpoints.some((e) => e.host === hp.host && e.port === hp.port)) throw new EtcdUrlError(url, `endpoint ${part} is named twice`);
    endpoints.push(hp);
  }
  if (key === '' || key === '/') throw new EtcdUrlError(url, 'no key after the endpoints');
  return { url, endpoints, key };
}
