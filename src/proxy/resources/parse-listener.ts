// Listener (proto3 JSON) → ListenerSpec: one address (or none, for an internal listener), one
// HttpConnectionManager taking its routes over RDS, with the router as its only HTTP filter (what
// shadowplane's compiler emits).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto
import { isIP } from 'node:net';
import { TypeUrl } from '../../envoy-api/type-urls.js';
import type { ListenerSpec } from '../data-plane-config.js';
import type { JsonFields } from './resource-reader.js';

function routeConfigName(hcm: JsonFields): string | undefined {
  hcm.accept('stat_prefix');
  const rds = hcm.object('rds', true);
  rds?.accept('config_source'); // where RDS comes from is the xDS client's business
  const name = rds?.name('route_config_name');
  rds?.finish();
  const filters = hcm.objects('http_filters');
  filters.forEach((f, i) => {
    const cfg = f.object('typed_config', true);
    const type = cfg?.string('@type');
    cfg?.finish(); // a router option (suppress_envoy_headers, …) would change behaviour: refuse it
    f.accept('name');
    f.finish();
    if (type !== TypeUrl.Router) f.problem('only envoy.filters.http.router is supported');
    else if (i !== filters.length - 1) f.problem('the router must be the last HTTP filter');
  });
  if (filters.length === 0) hcm.problem('needs the router filter', 'http_filters');
  hcm.finish();
  return name;
}

/** A listener without a socket, reached only through clusters whose endpoint names it (envoy_internal_address). */
export interface InternalListenerSpec {
  readonly name: string;
  readonly routeConfigName: string;
}

export type ParsedListener = { readonly internal: false; readonly spec: ListenerSpec } | { readonly internal: true; readonly spec: InternalListenerSpec };

function socketAddress(l: JsonFields): { host: string | undefined; port: number | undefined } {
  const sa = l.object('address', true)?.object('socket_address', true);
  const host = sa?.name('address');
  const port = sa?.uint('port_value');
  sa?.accept('protocol');
  sa?.finish();
  if (host !== undefined && isIP(host) === 0) sa?.problem(`malformed IP address: ${host}`, 'address');
  if (port !== undefined && port > 65535) sa?.problem('must be 0–65535', 'port_value');
  return { host, port };
}

export function parseListener(l: JsonFields): ParsedListener | undefined {
  const name = l.name('name');
  const internal = l.object('internal_listener');
  internal?.finish(); // InternalListenerConfig has no fields in this API
  if (internal && l.has('address')) {
    l.problem('an internal listener has no address', 'address');
    l.accept('address');
  }
  const { host, port } = internal ? { host: undefined, port: undefined } : socketAddress(l);
  const chains = l.objects('filter_chains');
  if (chains.length !== 1) l.problem('needs exactly one filter chain', 'filter_chains');
  let rc: string | undefined;
  for (const chain of chains) {
    const filters = chain.objects('filters');
    if (filters.length !== 1) chain.problem('needs exactly one filter, the HTTP connection manager', 'filters');
    for (const f of filters) {
      f.accept('name');
      const hcm = f.object('typed_config', true);
      if (hcm && hcm.string('@type') !== TypeUrl.HttpConnectionManager) hcm.problem('only the HTTP connection manager is supported', '@type');
      else if (hcm) rc = routeConfigName(hcm);
      f.finish();
    }
    chain.finish();
  }
  l.finish();
  if (name === undefined || rc === undefined) return undefined;
  if (internal) return { internal: true, spec: { name, routeConfigName: rc } };
  if (host === undefined || port === undefined) return undefined;
  return { internal: false, spec: { name, host, port, routeConfigName: rc } };
}
