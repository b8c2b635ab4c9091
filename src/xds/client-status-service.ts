// The standard Client Status Discovery Service on the xDS port, so existing xDS tooling can ask for
// each connected client's config and sync state: every proxy (ADS streams and the built-in data
// plane) as a ClientConfig whose generic_xds_configs carry, per resource, the version it holds, its
// content, and its ConfigStatus / ClientResourceStatus (a NACK with Envoy's message as error_state).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/status/v3/csds.proto
// With mutual TLS a caller learns only about the nodes its certificate may claim (stream-identity.ts):
// CSDS must not hand out what ADS would refuse.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { envoyProtoRoot } from '../envoy-api/proto-root.js';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { compileSafeRegex } from '../safe-regex/safe-regex.js';
import type { ProxyRecord, ProxyRegistry } from './proxy-status.js';

const SERVICE = '/envoy.service.status.v3.ClientStatusDiscoveryService';

type Json = Record<string, unknown>;

interface Types {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
  readonly any: protobuf.Type;
}

let types: Types | undefined;
function csdsTypes(): Types {
  if (!types) {
    const root = envoyProtoRoot();
    types = {
      request: root.lookupType('envoy.service.status.v3.ClientStatusRequest'),
      response: root.lookupType('envoy.service.status.v3.ClientStatusResponse'),
      any: root.lookupType('google.protobuf.Any'),
    };
  }
  return types;
}

function timestamp(iso: string | undefined): Json | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** A StringMatcher of envoy.type.matcher.v3 (exact, prefix, suffix, contains, safe_regex; ignore_case). */
function stringMatches(m: Json | undefined, value: string): boolean {
  if (!m) return true;
  const fold = m.ignore_case === true;
  const v = fold ? value.toLowerCase() : value;
  const want = (k: string): string | undefined => (typeof m[k] === 'string' ? (fold ? (m[k] as string).toLowerCase() : (m[k] as string)) : undefined);
  if (want('exact') !== undefined) return v === want('exact');
  if (want('prefix') !== undefined) return v.startsWith(want('prefix')!);
  if (want('suffix') !== undefined) return v.endsWith(want('suffix')!);
  if (want('contains') !== undefined) return v.includes(want('contains')!);
  const regex = (m.safe_regex as Json | undefined)?.regex;
  if (typeof regex === 'string') {
    const re = compileSafeRegex(regex);
    return re.ok && re.regex.test(value);
  }
  return true;
}

/** The clients a request asks about: all, or those whose node id one of its node_matchers matches. */
function selected(req: Json, proxies: readonly ProxyRecord[]): ProxyRecord[] {
  const matchers = (req.node_matchers as Json[] | undefined) ?? [];
  const withNode = proxies.filter((p) => p.node !== undefined);
  if (matchers.length === 0) return withNode;
  return withNode.filter((p) => matchers.some((m) => stringMatches(m.node_id as Json | undefined, p.node!.id)));
}

function clientConfig(p: ProxyRecord, withContents: boolean): Json {
  const { any } = csdsTypes();
  const configs: Json[] = [];
  for (const typeUrl of p.view?.requestedTypes() ?? []) {
    const lastUpdated = timestamp(p.type(typeUrl).ackedAt);
    for (const r of p.view!.resources(typeUrl)) {
      const entry: Json = { type_url: typeUrl, name: r.name, version_info: r.version, config_status: r.status, client_status: r.client };
      if (lastUpdated) entry.last_updated = lastUpdated;
      if (withContents && r.resource) entry.xds_config = any.decode(r.resource.any);
      if (r.error) {
        entry.error_state = {
          details: r.error.message,
          version_info: r.error.version,
          last_update_attempt: timestamp(r.error.at),
          ...(withContents && r.error.resource ? { failed_configuration: any.decode(r.error.resource.any) } : {}),
        };
      }
      configs.push(entry);
    }
  }
  return { node: nodeJson(p.node!), generic_xds_configs: configs };
}

/** The node as the proxy named itself: id, cluster, user agent and its version (Envoy's, or the built-in data plane's). */
function nodeJson(node: NodeInfo): Json {
  const out: Json = { id: node.id, cluster: node.cluster, user_agent_name: node.userAgent };
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(node.userAgentVersion ?? node.envoyVersion ?? '');
  if (m) out.user_agent_build_version = { version: { major_number: Number(m[1]), minor_number: Number(m[2]), patch: Number(m[3]) } };
  return out;
}

/** Which proxies a caller may be told about; every one without mutual TLS. */
export type CsdsScope = (call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>) => (p: ProxyRecord) => boolean;

export function clientStatusResponse(proxies: ProxyRegistry, req: Json, visible: (p: ProxyRecord) => boolean = () => true): Buffer {
  const { response } = csdsTypes();
  const withContents = req.exclude_resource_contents !== true;
  const config = selected(req, proxies.list().filter(visible)).map((p) => clientConfig(p, withContents));
  return Buffer.from(response.encode(response.fromObject({ config })).finish());
}

function decodeRequest(b: Buffer): Json {
  const { request } = csdsTypes();
  return request.toObject(request.decode(b)) as Json;
}

const identity = (b: Buffer): Buffer => b;
const serverOnly = (): never => {
  throw new Error('server side only');
};

export const CSDS_SERVICE: grpc.ServiceDefinition = {
  StreamClientStatus: {
    path: `${SERVICE}/StreamClientStatus`,
    requestStream: true,
    responseStream: true,
    requestSerialize: serverOnly,
    requestDeserialize: decodeRequest,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  FetchClientStatus: {
    path: `${SERVICE}/FetchClientStatus`,
    requestStream: false,
    responseStream: false,
    requestSerialize: serverOnly,
    requestDeserialize: decodeRequest,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export function csdsHandlers(proxies: ProxyRegistry, scope?: CsdsScope): grpc.UntypedServiceImplementation {
  return {
    FetchClientStatus: (call: grpc.ServerUnaryCall<Json, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, clientStatusResponse(proxies, call.request, scope?.(call)));
    },
    StreamClientStatus: (call: grpc.ServerDuplexStream<Json, Buffer>) => {
      const visible = scope?.(call);
      call.on('data', (req: Json) => call.write(clientStatusResponse(proxies, req, visible)));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  };
}
