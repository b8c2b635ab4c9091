import type { JsonObject } from '../envoy-api/proto-json.js';

/** RDS and EDS ride on the same ADS stream as LDS and CDS. */
export const ADS_CONFIG_SOURCE: JsonObject = { ads: {}, resource_api_version: 'V3' };
