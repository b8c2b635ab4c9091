// "host:port" and "[v6]:port" as written in the config.
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port`; undefined when it is neither. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1]!;
  if (text.startsWith('[') && isIP(host) !== 6) return undefined;
  return { host, port };
}

/** `host:port[,host:port…]`, each as parseHostPort takes it; undefined when any part is not. */
export function parseHostPortList(text: string): HostPort[] | undefined {
  const parts = text.split(',').map(parseHostPort);
  return parts.every((p) => p !== undefined) ? (parts as HostPort[]) : undefined;
}

export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

export function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
