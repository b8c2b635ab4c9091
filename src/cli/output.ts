import { availableParallelism } from 'node:os';
import type { OutputFormat } from '../envoy-api/document-format.js';

export function parseFormat(value: string | undefined, fallback: OutputFormat): OutputFormat {
  if (value === undefined) return fallback;
  if (value === 'json' || value === 'yaml') return value;
  throw new UsageError(`--format must be json or yaml, not "${value}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `--log-level`, checked: pino's own error for an unknown level is a stack trace. */
export function logLevel(value: string | undefined): string {
  if (value === undefined) return 'info';
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value;
  throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${value}"`);
}

/** `--workers N`: a whole number from 1 up; one per CPU when not given. */
export function workerCount(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 256) throw new UsageError(`--workers must be a whole number from 1 to 256, not "${value}"`);
  return Number(value);
}

/** A command line that cannot be run; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}
