// Which format a top-level object is written in: a Kubernetes object (apiVersion and kind), an APISIX
// configuration (the standalone apisix.yaml layout, APISIX's config.yaml with plugin_attr, ADC's
// services with routes, or one route as the Admin API takes it), or shadowplane's own config.

export type SourceFormat = 'shadowplane' | 'gateway-api' | 'istio' | 'apisix';

export const SOURCE_FORMATS: readonly SourceFormat[] = ['gateway-api', 'istio', 'apisix', 'shadowplane'];

export type DetectedLayout =
  | { readonly layout: 'kubernetes' }
  | { readonly layout: 'apisix'; readonly variant: 'standalone' | 'adc' | 'route' }
  | { readonly layout: 'shadowplane' }
  | { readonly layout: 'unknown' };

/** Top-level keys of APISIX's standalone apisix.yaml and of its config.yaml (for plugin_attr). */
const APISIX_STANDALONE_KEYS = new Set([
  'routes', 'upstreams', 'services', 'plugin_configs', 'plugin_attr', 'consumers', 'consumer_groups', 'ssls', 'global_rules',
  'stream_routes', 'protos', 'plugin_metadata', 'secrets', 'apisix', 'deployment', 'nginx_config', 'discovery', 'plugins',
  'stream_plugins', 'graphql', 'wasm', 'xrpc', 'ext-plugin',
]);
const APISIX_MARKER_KEYS = ['routes', 'upstreams', 'services', 'plugin_attr', 'apisix', 'deployment'];
const ADMIN_ROUTE_KEYS = ['uri', 'uris'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function detectLayout(value: unknown): DetectedLayout {
  if (!isObject(value)) return { layout: 'unknown' };
  if (typeof value.apiVersion === 'string' && typeof value.kind === 'string') return { layout: 'kubernetes' };
  const keys = Object.keys(value);
  if (keys.some((k) => k === 'listeners' || k === 'clusters')) return { layout: 'shadowplane' };
  if (ADMIN_ROUTE_KEYS.some((k) => k in value)) return { layout: 'apisix', variant: 'route' };
  if (keys.length > 0 && keys.every((k) => APISIX_STANDALONE_KEYS.has(k)) && APISIX_MARKER_KEYS.some((k) => k in value)) {
    const services = value.services;
    const adc = Array.isArray(services) && services.some((s) => isObject(s) && 'routes' in s);
    return { layout: 'apisix', variant: adc ? 'adc' : 'standalone' };
  }
  return { layout: 'unknown' };
}
