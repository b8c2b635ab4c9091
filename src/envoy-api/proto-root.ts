// Loads Envoy's v3 API definitions from the npm package that ships them (@grpc/grpc-js-xds bundles
// envoy-api, xds, googleapis and protoc-gen-validate under deps/). Nothing third-party is copied here.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** The folders that hold Envoy's .proto tree, as shipped by @grpc/grpc-js-xds. */
export function envoyProtoIncludeDirs(): string[] {
  const pkgDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(pkgDir, 'deps', d));
}

/** Every message shadowplane encodes or decodes is reachable from these files. */
export const ENVOY_PROTO_FILES = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/common/mutation_rules/v3/mutation_rules.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/runtime/v3/rtds.proto',
  'envoy/service/status/v3/csds.proto',
] as const;

/**
 * RequestMirrorPolicy fields added in Envoy 1.36 that older API bundles lack. Numbers and types are
 * Envoy's own (api/envoy/config/route/v3/route_components.proto); a bundle that already has a field
 * keeps its definition.
 */
const MIRROR_POLICY_ADDITIONS: ReadonlyArray<{ name: string; id: number; type: string; rule?: 'repeated' }> = [
  {
    name: 'request_headers_mutations',
    id: 7,
    type: '.envoy.config.common.mutation_rules.v3.HeaderMutation',
    rule: 'repeated',
  },
  { name: 'host_rewrite_literal', id: 8, type: 'string' },
];

function addMissingMirrorPolicyFields(root: protobuf.Root): void {
  const policy = root.lookupType('envoy.config.route.v3.RouteAction.RequestMirrorPolicy');
  for (const f of MIRROR_POLICY_ADDITIONS) {
    if (policy.fields[f.name] !== undefined) continue;
    if (policy.fieldsById[f.id] !== undefined) {
      throw new Error(`RequestMirrorPolicy field ${f.id} is "${policy.fieldsById[f.id]!.name}", expected "${f.name}"`);
    }
    const field = new protobuf.Field(f.name, f.id, f.type, f.rule);
    policy.add(field);
    // The root was resolved while loading; a field added afterwards must be resolved itself.
    field.resolve();
  }
}

// Envoy's annotations import descriptor.proto, which protobufjs ships as JSON but does not register by
// default (proto-loader registers it the same way).
protobuf.common('descriptor', require('protobufjs/google/protobuf/descriptor.json').nested.google.nested.protobuf.nested);

let cached: protobuf.Root | undefined;

/** One resolved protobufjs Root for the process; loading takes ~1 s, so it is done once. */
export function envoyProtoRoot(): protobuf.Root {
  if (cached) return cached;
  const includeDirs = envoyProtoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target; // protobufjs serves google/protobuf/*.proto from its bundled copies
  };
  root.loadSync([...ENVOY_PROTO_FILES], { keepCase: true, alternateCommentMode: false });
  addMissingMirrorPolicyFields(root);
  root.resolveAll();
  cached = root;
  return root;
}
