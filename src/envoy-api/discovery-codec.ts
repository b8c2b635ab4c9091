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
  /**
   * The resource_names field as it stood on the wire: an ACK repeats its list, and a server that
   * compares these bytes with the last request's need not read the names again. Undefined when the
   * names did not come in one run.
   */
  readonly resourceNamesBytes: Uint8Array | undefined;
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
let types: { deltaReq: protobuf.Type; resp: protobuf.Type; deltaResp: protobuf.Type; node: protobuf.Type; status: protobuf.Type } | undefined;
function messageTypes(): NonNullable<typeof types> {
  types ??= {
    node: root().lookupType('envoy.config.core.v3.Node'),
    status: root().lookupType('google.rpc.Status'),
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

const NO_BYTES = new Uint8Array(0);

const utf8 = (bytes: Uint8Array, start: number, end: number): string => protobuf.util.utf8.read(bytes, start, end);

function decodeObject(t: protobuf.Type, bytes: Uint8Array): unknown {
  return t.toObject(t.decode(bytes), TO_OBJECT);
}

/**
 * Calls `visit` for each length-delimited field of a message (strings, bytes, messages, packed
 * lists) with where its value lies, and where its tag began; other wire types are skipped.
 */
function eachLengthDelimited(bytes: Uint8Array, visit: (field: number, start: number, end: number, tagAt: number) => void): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tagAt = r.pos;
    const tag = r.uint32();
    if ((tag & 7) !== 2) {
      r.skipType(tag & 7);
      continue;
    }
    const length = r.uint32();
    const start = r.pos;
    r.pos = start + length;
    visit(tag >>> 3, start, start + length, tagAt);
  }
}

/** The strings of repeated field 3 in `bytes` (a message or a run of that field). */
function readNames(bytes: Uint8Array): string[] {
  const names: string[] = [];
  eachLengthDelimited(bytes, (field, start, end) => {
    if (field === 3) names.push(utf8(bytes, start, end));
  });
  return names;
}

/**
 * Read by hand rather than through protobufjs's object conversion: a state-of-the-world proxy ACKs
 * every response with its whole subscription (every endpoint name, say), and a server with a
 * thousand of them would spend its push reading names it already has. Node and error_detail, which
 * come rarely, are decoded by protobufjs.
 */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  let versionInfo = '';
  let typeUrl = '';
  let responseNonce = '';
  let node: NodeInfo | undefined;
  let error: ErrorDetail | undefined;
  let namesStart = -1;
  let namesEnd = -1;
  let oneRun = true;
  eachLengthDelimited(bytes, (field, start, end, tagAt) => {
    if (field === 1) versionInfo = utf8(bytes, start, end);
    else if (field === 2) node = nodeInfo(decodeObject(messageTypes().node, bytes.subarray(start, end)) as RawNode);
    else if (field === 3) {
      if (namesStart < 0) namesStart = tagAt;
      else if (tagAt !== namesEnd) oneRun = false;
      namesEnd = end;
    } else if (field === 4) typeUrl = utf8(bytes, start, end);
    else if (field === 5) responseNonce = utf8(bytes, start, end);
    else if (field === 6) error = errorDetail(decodeObject(messageTypes().status, bytes.subarray(start, end)) as { code?: number; message?: string });
  });
  const namesBytes = namesStart < 0 ? NO_BYTES : oneRun ? bytes.subarray(namesStart, namesEnd) : undefined;
  let names: string[] | undefined;
  return {
    versionInfo,
    node,
    get resourceNames(): readonly string[] {
      names ??= readNames(namesBytes ?? bytes);
      return names;
    },
    resourceNamesBytes: namesBytes,
    typeUrl,
    responseNonce,
    errorDetail: error,
  };
}

/** A map<string, string> entry: key = 1, value = 2. */
function readMapEntry(bytes: Uint8Array): [string, string] {
  const entry: [string, string] = ['', ''];
  eachLengthDelimited(bytes, (field, start, end) => {
    if (field === 1 || field === 2) entry[field - 1] = utf8(bytes, start, end);
  });
  return entry;
}

/** Read by hand, as decodeDiscoveryRequest is: every ACK of every stream comes through here. */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  let node: NodeInfo | undefined;
  let typeUrl = '';
  let responseNonce = '';
  let error: ErrorDetail | undefined;
  const subscribe: string[] = [];
  const unsubscribe: string[] = [];
  const initialResourceVersions = new Map<string, string>();
  eachLengthDelimited(bytes, (field, start, end) => {
    if (field === 1) node = nodeInfo(decodeObject(messageTypes().node, bytes.subarray(start, end)) as RawNode);
    else if (field === 2) typeUrl = utf8(bytes, start, end);
    else if (field === 3) subscribe.push(utf8(bytes, start, end));
    else if (field === 4) unsubscribe.push(utf8(bytes, start, end));
    else if (field === 5) initialResourceVersions.set(...readMapEntry(bytes.subarray(start, end)));
    else if (field === 6) responseNonce = utf8(bytes, start, end);
    else if (field === 7) error = errorDetail(decodeObject(messageTypes().status, bytes.subarray(start, end)) as { code?: number; message?: string });
  });
  return { node, typeUrl, subscribe, unsubscribe, initialResourceVersions, responseNonce, errorDetail: error };
}

/** A DiscoveryResponse but its nonce (withNonce adds it), so one encoding serves every stream that gets the same content. */
export function encodeDiscoveryResponseBody(versionInfo: string, typeUrl: string, resources: Iterable<PreEncodedResource>): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).string(versionInfo);
  for (const r of resources) w.uint32((2 << 3) | 2).bytes(r.any);
  w.uint32((4 << 3) | 2).string(typeUrl);
  return Buffer.from(w.finish());
}

/** A DeltaDiscoveryResponse but its nonce (withNonce adds it). */
export function encodeDeltaDiscoveryResponseBody(systemVersion: string, typeUrl: string, resources: Iterable<PreEncodedResource>, removed: readonly string[]): Buffer {
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
  for (const name of removed) w.uint32((6 << 3) | 2).string(name);
  return Buffer.from(w.finish());
}

/**
 * A response body with its nonce: field 5 of both DiscoveryResponse and DeltaDiscoveryResponse.
 * Protobuf fields may come in any order, so it is appended.
 */
export function withNonce(body: Buffer, nonce: string): Buffer {
  const field = protobuf.Writer.create().uint32((5 << 3) | 2).string(nonce).finish();
  return Buffer.concat([body, field], body.length + field.length);
}

/** Client side of state-of-the-world xDS (the data plane's xDS client and the benchmark's simulated Envoys). */
const encodedNames = new WeakMap<readonly string[], Uint8Array>();

/** Repeated field 3 for a list of names, encoded once per list (a client ACKs with the same list again and again). */
function namesField(names: readonly string[]): Uint8Array {
  let b = encodedNames.get(names);
  if (!b) {
    const w = protobuf.Writer.create();
    for (const n of names) w.uint32((3 << 3) | 2).string(n);
    encodedNames.set(names, (b = w.finish()));
  }
  return b;
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
  const w = protobuf.Writer.create();
  if (o.versionInfo) w.uint32((1 << 3) | 2).string(o.versionInfo);
  if (o.node) {
    const t = messageTypes().node;
    w.uint32((2 << 3) | 2).bytes(t.encode(t.fromObject(o.node)).finish());
  }
  w.uint32((4 << 3) | 2).string(o.typeUrl);
  if (o.responseNonce) w.uint32((5 << 3) | 2).string(o.responseNonce);
  if (o.errorDetail) {
    const t = messageTypes().status;
    w.uint32((6 << 3) | 2).bytes(t.encode(t.fromObject(o.errorDetail)).finish());
  }
  const head = w.finish();
  const names = namesField(o.resourceNames ?? []);
  return Buffer.concat([head, names], head.length + names.length);
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
