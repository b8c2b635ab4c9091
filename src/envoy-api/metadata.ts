// Names shadowplane writes into Envoy's config beyond Envoy's own fields, shared by the writers
// (translate, xds) and the readers (the built-in data path, its xDS client).

/** The RTDS layer every mirror's runtime_key is read from, so percentages can change live. */
export const RTDS_LAYER_NAME = 'shadowplane_mirrors';

// Route metadata for what Envoy has no field for. Envoy keeps `filter_metadata` and ignores a
// namespace no filter reads; the built-in data path reads it back.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/base.proto#config-core-v3-metadata

/** Route `filter_metadata` namespace: each mirror policy's response comparison, keyed by its runtime_key. */
export const MIRROR_COMPARE_METADATA = 'shadowplane.mirror_compare';

/** One entry of the MIRROR_COMPARE_METADATA Struct, as written and as read back (a type alias, so it is JSON). */
export type MirrorCompareMetadata = {
  /** Response headers compared, lower-case. */
  headers: string[];
  /** JSONPath subset (see src/json-path/json-path.ts): locations left out of a JSON body comparison. */
  ignore_json_paths: string[];
  /** Bodies up to this many bytes are compared; longer ones by SHA-256. */
  max_body_bytes: number;
};
