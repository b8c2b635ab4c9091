// DiscoveryRequest/Response (state of the world) and their Delta forms on the wire, for the server
// and for clients. Responses are assembled from pre-encoded resource bytes, so a push costs a copy per
// stream, not an encode.
import protobuf from 'protobufjs';
import { envoyProtoRoot } from './proto-root.js';

/** A resource whose Any bytes are already encoded (see xds/encoded-resource.ts). */
export interface PreEncodedResource {
  readonly name: string;
  readonly version: string;
  readonly any: Uint8Array;
}

export interface NodeInfo {
  readonly id: string;
  readonly cluster: string;
  /** "1.40.0" from user_agent_build_version, or undefined when the node does not say. */
  readonly envoyVersion: string | undefined;
  readonly userAgent: string;
  /**
   * The user agent's version (user_agent_build_version), where it is not an Envoy's: the built-in
   * data plane's shadowplane version. Undefined: the same as envoyVersion.
   */
  readonly userAgentVersion?: string | undefined;
}

export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

export interface DiscoveryRequest {
  readonly versionInfo: string;
  readonly node: NodeInfo | undefined;
  readonly resourceNames: readonly string[];
  readonly typeUrl: string;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | undefined;
}

export interface DeltaDiscoveryRequest {
  readonly node: NodeInfo | undefined;
  readonly typeUrl: string;
  readonly subscribe: readonly string[];
  readonly unsubscribe: readonly string[];
  readonly initialResourceVersions: ReadonlyMap<string, string>;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | undefined;
}

const root = (): protobuf.Root => envoyProtoRoot();
let types: { req: protobuf.Type; deltaReq: protobuf.Type; resp: protobuf.Type; deltaResp: protobuf.Type } | undefined;
function messageTypes(): NonNullable<typeof types> {
  types ??= {
    req: root().lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    deltaReq: root().lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    resp: root().lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    deltaResp: root().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
  };
  return types;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false };

interface RawNode {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_build_version?: { version?: { major_number?: number; minor_number?: number; patch?: number } };
}

function nodeInfo(raw: RawNode | undefined): NodeInfo | undefined {
  if (!raw) return undefined;
  const v = raw.user_agent_build_version?.version;
  return {
    id: raw.id ?? '',
    cluster: raw.cluster ?? '',
    envoyVersion: v ? `${v.major_number ?? 0}.${v.minor_number ?? 0}.${v.patch ?? 0}` : undefined,
    userAgent: raw.user_agent_name ?? '',
  };
}

function errorDetail(raw: { code?: number; message?: string } | undefined): ErrorDetail | undefined {
  return raw ? { code: raw.code ?? 0, message: raw.message ?? '' } : undefined;
}

export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const t = messageTypes().req;
  const o = t.toObject(t.decode(bytes), TO_OBJECT) as {
    version_info?: string;
    node?: RawNode;
    resource_names?: string[];
    type_url?: string;
    response_nonce?: string;
    error_detail?: { code?: number; message?: string };
  };
  return {
    versionInfo: o.version_info ?? '',
    node: nodeInfo(o.node),
    resourceNames: o.resource_names ?? [],
    typeUrl: o.type_url ?? '',
    responseNonce: o.response_nonce ?? '',
    errorDetail: errorDetail(o.error_detail),
  };
}

export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  const t = messageTypes().deltaReq;
  const o = t.toObject(t.decode(bytes), TO_OBJECT) as {
    node?: RawNode;
    type_url?: string;
    resource_names_subscribe?: string[];
    resource_names_unsubscribe?: string[];
    initial_resource_versions?: Record<string, string>;
    response_nonce?: string;
    error_detail?: { code?: number; message?: string };
  };
  return {
    node: nodeInfo(o.node),
    typeUrl: o.type_url ?? '',
    subscribe: o.resource_names_subscribe ?? [],
    unsubscribe: o.resource_names_unsubscribe ?? [],
    initialResourceVersions: new Map(Object.entries(o.initial_resource_versions ?? {})),
    responseNonce: o.response_nonce ?? '',
    errorDetail: errorDetail(o.error_detail),
  };
}

export function encodeDiscoveryResponse(versionInfo: string, typeUrl: string, nonce: string, resources: readonly PreEncodedResource[]): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(versionInfo);
  for (const r of resources) w.uint32((2 << 3) | 2).bytes(r.any);
  w.uint32((4 << 3) | 2).string(typeUrl);
  w.uint32((5 << 3) | 2).string(nonce);
  return Buffer.from(w.finish());
}

export function encodeDeltaDiscoveryResponse(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  resources: readonly PreEncodedResource[],
  removed: readonly string[],
): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(systemVersion);
  for (const r of resources) {
    // envoy.service.discovery.v3.Resource { version = 1; resource = 2 (Any); name = 3 }
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(r.version);
    w.uint32((2 << 3) | 2).bytes(r.any);
    w.uint32((3 << 3) | 2).string(r.name);
    w.ldelim();
  }
  w.uint32((4 << 3) | 2).string(typeUrl);
  w.uint32((5 << 3) | 2).string(nonce);
  for (const name of removed) w.uint32((6 << 3) | 2).string(name);
  return Buffer.from(w.finish());
}

/** Client side of state-of-the-world xDS (the data plane's xDS client and the benchmark's simulated Envoys). */
export function encodeDiscoveryRequest(o: {
  versionInfo?: string;
  node?: { id: string; cluster?: string };
  resourceNames?: readonly string[];
  typeUrl: string;
  responseNonce?: string;
  errorDetail?: ErrorDetail;
}): Buffer {
  const t = messageTypes().req;
  const msg = t.fromObject({
    version_info: o.versionInfo ?? '',
    node: o.node,
    resource_names: o.resourceNames ?? [],
    type_url: o.typeUrl,
    response_nonce: o.responseNonce ?? '',
    error_detail: o.errorDetail,
  });
  return Buffer.from(t.encode(msg).finish());
}

export interface DecodedResponse {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  /** Each resource's Any: type URL and value bytes. */
  readonly resources: ReadonlyArray<{ typeUrl: string; value: Uint8Array }>;
}

export function decodeDiscoveryResponse(bytes: Uint8Array): DecodedResponse {
  const t = messageTypes().resp;
  const m = t.decode(bytes) as unknown as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ type_url: string; value: Uint8Array }>;
  };
  return { versionInfo: m.version_info, typeUrl: m.type_url, nonce: m.nonce, resources: m.resources.map((r) => ({ typeUrl: r.type_url, value: r.value })) };
}

/** Client side of delta xDS: a subscription change, or the ACK of a response (its nonce). */
export function encodeDeltaDiscoveryRequest(o: {
  node?: { id: string; cluster?: string };
  typeUrl: string;
  subscribe?: readonly string[];
  unsubscribe?: readonly string[];
  responseNonce?: string;
  errorDetail?: ErrorDetail;
}): Buffer {
  const t = messageTypes().deltaReq;
  const msg = t.fromObject({
    node: o.node,
    type_url: o.typeUrl,
    resource_names_subscribe: o.subscribe ?? [],
    resource_names_unsubscribe: o.unsubscribe ?? [],
    response_nonce: o.responseNonce ?? '',
    error_detail: o.errorDetail,
  });
  return Buffer.from(t.encode(msg).finish());
}

export interface DecodedDeltaResponse {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  /** Added or changed resources: name, version, and their Any's type URL and value bytes. */
  readonly resources: ReadonlyArray<{ name: string; version: string; typeUrl: string; value: Uint8Array }>;
  readonly removed: readonly string[];
}

export function decodeDeltaDiscoveryResponse(bytes: Uint8Array): DecodedDeltaResponse {
  const t = messageTypes().deltaResp;
  const m = t.decode(bytes) as unknown as {
    system_version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ name: string; version: string; resource?: { type_url: string; value: Uint8Array } }>;
    removed_resources: string[];
  };
  return {
    systemVersionInfo: m.system_version_info,
    typeUrl: m.type_url,
    nonce: m.nonce,
    resources: m.resources.map((r) => ({ name: r.name, version: r.version, typeUrl: r.resource?.type_url ?? '', value: r.resource?.value ?? new Uint8Array() })),
    removed: m.removed_resources,
  };
}
