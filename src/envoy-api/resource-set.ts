// The resources one node is served, in proto3 JSON form: what translate() writes, what the xDS
// server snapshots, what an xDS client receives and what the built-in data path reads.
import { canonicalize, type TypedJson } from './proto-json.js';

export interface ResourceSet {
  readonly listeners: readonly TypedJson[];
  readonly routes: readonly TypedJson[];
  readonly clusters: readonly TypedJson[];
  readonly endpoints: readonly TypedJson[];
  /** Runtime (RTDS) layers, in the order they apply (a later one wins); absent where nothing serves runtime. */
  readonly runtime?: readonly TypedJson[];
}

/** Each resource as Envoy receives it (encoded with Envoy's definitions and decoded back). */
export function canonicalResources(r: ResourceSet): ResourceSet {
  return {
    listeners: r.listeners.map((x) => canonicalize(x)),
    routes: r.routes.map((x) => canonicalize(x)),
    clusters: r.clusters.map((x) => canonicalize(x)),
    endpoints: r.endpoints.map((x) => canonicalize(x)),
    ...(r.runtime ? { runtime: r.runtime.map((x) => canonicalize(x)) } : {}),
  };
}
