// --listen-address and --from, shared by every command that reads a config.
import { isIP } from 'node:net';
import { SOURCE_FORMATS, type SourceFormat } from '../config/formats/detect.js';
import type { LoadOptions } from '../config/load.js';
import { UsageError } from './output.js';

export interface LoadFlags {
  readonly listenAddress?: string | undefined;
  readonly from?: string | undefined;
}

/** `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`, HOST an IP address. */
function listenAddress(value: string): { host: string; port: number | undefined } {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(value) ?? /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(value) ?? (isIP(value) === 6 ? [value, value] : null);
  const host = m?.[1];
  const port = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (host === undefined || isIP(host) === 0 || (port !== undefined && (port < 1 || port > 65535))) {
    throw new UsageError(`--listen-address must be an IP address, optionally with :PORT (e.g. 127.0.0.1 or 0.0.0.0:9080), not "${value}"`);
  }
  return { host, port };
}

export function loadOptions(f: LoadFlags): LoadOptions {
  if (f.from !== undefined && !(SOURCE_FORMATS as readonly string[]).includes(f.from)) {
    throw new UsageError(`--from must be one of ${SOURCE_FORMATS.join(', ')}, not "${f.from}"`);
  }
  return {
    ...(f.from !== undefined ? { from: f.from as SourceFormat } : {}),
    ...(f.listenAddress !== undefined ? { listen: listenAddress(f.listenAddress) } : {}),
  };
}
