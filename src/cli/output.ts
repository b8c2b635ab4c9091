import { stringify } from 'yaml';

export type OutputFormat = 'json' | 'yaml';

export function parseFormat(value: string | undefined, fallback: OutputFormat): OutputFormat {
  if (value === undefined) return fallback;
  if (value === 'json' || value === 'yaml') return value;
  throw new UsageError(`--format must be json or yaml, not "${value}"`);
}

/**
 * YAML is written with the 1.1 schema because Envoy reads it with yaml-cpp (YAML 1.1), where a bare
 * `n`, `yes` or `on` is a boolean: a node id "n" must come out quoted.
 */
export function formatDocument(value: unknown, format: OutputFormat): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0, version: '1.1', aliasDuplicateObjects: false });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `--log-level`, checked: pino's own error for an unknown level is a stack trace. */
export function logLevel(value: string | undefined): string {
  if (value === undefined) return 'info';
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value;
  throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${value}"`);
}

/** A command line that cannot be run; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}
