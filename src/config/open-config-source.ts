// The source a --config argument names: an etcd:// URL, else a file or folder.
import type { Acceptor, ConfigSource } from './config-source.js';
import { ConfigFileSource } from './config-file-source.js';
import { EtcdConfigSource } from './etcd-config-source.js';
import { isEtcdUrl, parseEtcdUrl } from './etcd-url.js';
import type { LoadOptions } from './load.js';

/** Throws EtcdUrlError for an etcd:// URL that cannot be used (the CLI checks it first). */
export function openConfigSource(location: string, accept: Acceptor, options: LoadOptions = {}): ConfigSource {
  return isEtcdUrl(location) ? new EtcdConfigSource(parseEtcdUrl(location), accept, options) : new ConfigFileSource(location, accept, undefined, options);
}
