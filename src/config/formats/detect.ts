// Which format a top-level object is written in: a Kubernetes object (apiVersion and kind), an APISIX
// configuration (the standalone apisix.yaml layout, APISIX's config.yaml with plugin_attr, ADC's
// services with routes, or one route as the Admin API takes it), or shadowplane's own config.
import type { Document } from 'yaml';

export type SourceFormat = 'shadowplane' | 'gateway-api' | 'istio' | 'apisix';

export const SOURCE_FORMATS: readonly SourceFormat[] = ['gateway-api', 'istio', 'apisix', 'shadowplane'];

export type DetectedLayout =
  | { readonly layout: 'kubernetes' }
  | { readonly layout: 'apisix'; readonly variant: 'standalone' | 'adc' | 'route' }
  | { readonly layout: 'shadowplane' }
  | { readonly layout: 'unknown' };

/** What else a document says about its format, besides its value. */
export interface LayoutHints {
  /** The document ends with APISIX's `#END` line (the standalone apisix.yaml's end marker). */
  readonly endMarker?: boolean;
}

/** Top-level keys of APISIX's standalone apisix.yaml. */
export const APISIX_STANDALONE_FILE_KEYS: readonly string[] = [
  'routes', 'upstreams', 'services', 'plugin_configs', 'consumers', 'consumer_groups', 'ssls', 'global_rules', 'stream_routes',
  'protos', 'plugin_metadata', 'secrets',
];
/** Top-level keys of APISIX's conf/config.yaml. */
export const APISIX_CONFIG_FILE_KEYS: readonly string[] = [
  'apisix', 'deployment', 'nginx_config', 'discovery', 'plugins', 'stream_plugins', 'plugin_attr', 'graphql', 'wasm', 'xrpc', 'ext-plugin',
];
/** Top-level keys of APISIX's standalone apisix.yaml and of its config.yaml (for plugin_attr). */
export const APISIX_STANDALONE_KEYS: ReadonlySet<string> = new Set([...APISIX_STANDALONE_FILE_KEYS, ...APISIX_CONFIG_FILE_KEYS]);
const ADMIN_ROUTE_KEYS = ['uri', 'uris'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Edit distance, for "did you mean" (the keys compared are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The APISIX top-level key `key` is a misspelling of (`route` → `routes`, `upstream` → `upstreams`,
 * `plugin-attr` → `plugin_attr`), or undefined. Compared case-insensitively, `-` as `_`.
 */
export function apisixKeyMeant(key: string): string | undefined {
  if (APISIX_STANDALONE_KEYS.has(key)) return undefined;
  const k = key.toLowerCase().replace(/-/g, '_');
  let best: { key: string; d: number } | undefined;
  for (const known of APISIX_STANDALONE_KEYS) {
    const d = distance(k, known.replace(/-/g, '_'));
    // One edit for short keys (`apisx`), two for longer ones (`upsteams`); never a key of three letters or less.
    if (k.length > 3 && d <= (known.length >= 7 ? 2 : 1) && (!best || d < best.d)) best = { key: known, d };
  }
  return best?.key;
}

/** Whether a document ends with APISIX's `#END` line (which the standalone apisix.yaml must end with). */
export function endsWithApisixMarker(doc: Document): boolean {
  const lines = (doc.comment ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.at(-1) === 'END';
}

/**
 * The layout of a top-level object. A mapping is APISIX's standalone (or config.yaml) layout when it
 * ends with `#END`, or has any of APISIX's top-level keys, or a key that misspells one (so the
 * misspelt key is reported in APISIX's terms rather than as a broken shadowplane config).
 */
export function detectLayout(value: unknown, hints: LayoutHints = {}): DetectedLayout {
  if (!isObject(value)) return { layout: 'unknown' };
  if (typeof value.apiVersion === 'string' && typeof value.kind === 'string') return { layout: 'kubernetes' };
  const keys = Object.keys(value);
  if (keys.some((k) => k === 'listeners' || k === 'clusters')) return { layout: 'shadowplane' };
  if (ADMIN_ROUTE_KEYS.some((k) => k in value)) return { layout: 'apisix', variant: 'route' };
  if (keys.length > 0 && (hints.endMarker === true || keys.some((k) => APISIX_STANDALONE_KEYS.has(k) || apisixKeyMeant(k) !== undefined))) {
    const services = value.services;
    const adc = Array.isArray(services) && services.some((s) => isObject(s) && 'routes' in s);
    return { layout: 'apisix', variant: adc ? 'adc' : 'standalone' };
  }
  return { layout: 'unknown' };
}
