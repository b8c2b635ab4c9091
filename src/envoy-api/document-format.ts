// Envoy bootstraps and rendered resources as text: JSON, or YAML as Envoy reads it.
import { stringify } from 'yaml';

export type OutputFormat = 'json' | 'yaml';

/**
 * YAML is written with the 1.1 schema because Envoy reads it with yaml-cpp (YAML 1.1), where a bare
 * `n`, `yes` or `on` is a boolean: a node id "n" must come out quoted.
 */
export function formatDocument(value: unknown, format: OutputFormat): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0, version: '1.1', aliasDuplicateObjects: false });
}
