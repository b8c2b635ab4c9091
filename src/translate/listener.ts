// Listener → Envoy Listener with one HttpConnectionManager that takes its routes over RDS.
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { Listener } from '../model/types.js';
import { ADS_CONFIG_SOURCE } from './config-source.js';
import { routeConfigurationName } from './route-configuration.js';

/** One filter chain: an HttpConnectionManager taking `routeConfigName` over RDS, with the router. */
export function httpFilterChains(statPrefix: string, routeConfigName: string): JsonObject[] {
  return [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': TypeUrl.HttpConnectionManager,
            stat_prefix: statPrefix,
            rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: routeConfigName },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TypeUrl.Router } }],
          },
        },
      ],
    },
  ];
}

export function buildListener(l: Listener): TypedJson {
  return {
    '@type': TypeUrl.Listener,
    name: l.name,
    address: { socket_address: { address: l.host, port_value: l.port } },
    filter_chains: httpFilterChains(l.name, routeConfigurationName(l)),
  };
}
