// What every importer works with: the problems found so far, the config being built, the Services
// and endpoints read from the documents, and where imported listeners without an address bind.
import type { ImportProblems } from './fields.js';
import type { ImportedConfig } from './imported-config.js';
import type { ServiceRegistry } from './kubernetes.js';

export interface ListenAddress {
  /** The IP imported listeners bind (`--listen-address`); 0.0.0.0 by default. */
  readonly host: string;
  /** For a format whose listener has no port of its own (APISIX); undefined: the format's default. */
  readonly port: number | undefined;
}

export const DEFAULT_LISTEN_ADDRESS: ListenAddress = { host: '0.0.0.0', port: undefined };

export interface ImportContext {
  readonly problems: ImportProblems;
  readonly out: ImportedConfig;
  readonly services: ServiceRegistry;
  readonly listen: ListenAddress;
}

/** `host:port` for a listener, with brackets for IPv6. */
export function listenerAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
