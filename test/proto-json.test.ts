// The codec between Envoy's JSON form and protobuf bytes, including the RequestMirrorPolicy fields
// added at load time for Envoy >= 1.36.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { canonicalize, decodeTyped, encodeAs, encodeTyped, formatDuration, ProtoJsonError } from '../src/envoy-api/proto-json.js';
import { envoyProtoRoot } from '../src/envoy-api/proto-root.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';

/** Field numbers and wire types present at the top level of an encoded message. */
function topLevelTags(bytes: Uint8Array): Array<[number, number]> {
  const r = protobuf.Reader.create(bytes);
  const tags: Array<[number, number]> = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    tags.push([tag >>> 3, tag & 7]);
    r.skipType(tag & 7);
  }
  return tags;
}

describe('proto JSON codec', () => {
  it('encodes request_headers_mutations as field 7 and host_rewrite_literal as field 8, as Envoy numbers them', () => {
    const bytes = encodeAs('envoy.config.route.v3.RouteAction.RequestMirrorPolicy', {
      cluster: 'm',
      request_headers_mutations: [{ remove: 'x-a' }],
      host_rewrite_literal: 'h',
    });
    assert.deepEqual(topLevelTags(bytes), [
      [1, 2],
      [7, 2],
      [8, 2],
    ]);
  });

  it('round-trips durations, wrappers, enums, maps and nested Any', () => {
    const cluster = {
      '@type': TypeUrl.Cluster,
      name: 'c',
      type: 'STRICT_DNS',
      connect_timeout: '0.250s',
      per_connection_buffer_limit_bytes: 32768,
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': TypeUrl.HttpProtocolOptions,
          common_http_protocol_options: { max_stream_duration: '2s' },
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
    };
    assert.deepEqual(decodeTyped(TypeUrl.Cluster, encodeTyped(cluster)), cluster);
  });

  it('formats durations as protobuf JSON does', () => {
    assert.deepEqual([formatDuration(5, 0), formatDuration(0, 250_000_000), formatDuration(1, 500), formatDuration(0, 1_500_000)], [
      '5s',
      '0.250s',
      '1.000000500s',
      '0.001500s',
    ]);
  });

  it('names the path of a field the message does not have', () => {
    assert.throws(
      () => canonicalize({ '@type': TypeUrl.RouteConfiguration, virtual_hosts: [{ name: 'v', domainz: ['*'] }] }),
      (e: unknown) => e instanceof ProtoJsonError && e.message === '$.virtual_hosts[0].domainz: VirtualHost has no field "domainz"',
    );
  });

  it('rejects an unknown enum value and a malformed duration', () => {
    assert.throws(() => encodeTyped({ '@type': TypeUrl.Cluster, type: 'MAGIC' }), /\$\.type: "MAGIC" is not a value of DiscoveryType/);
    assert.throws(() => encodeTyped({ '@type': TypeUrl.Cluster, connect_timeout: '250ms' }), /\$\.connect_timeout: "250ms" is not a duration/);
  });

  it('loads Envoy definitions from the npm package, not from this repository', () => {
    const root = envoyProtoRoot();
    const file = (root.lookupType('envoy.config.route.v3.RouteConfiguration') as protobuf.Type & { filename?: string }).filename ?? '';
    assert.match(file, /node_modules\/@grpc\/grpc-js-xds\/deps\/envoy-api\/envoy\/config\/route\/v3\/route\.proto$/);
  });
});

describe('google.protobuf.Struct (the RTDS layer)', () => {
  it('round-trips nested values, and every Value has its kind set on the wire', () => {
    const runtime = { '@type': TypeUrl.Runtime, name: 'l', layer: { 'a.b': { denominator: 'HUNDRED', numerator: 50 }, flag: true, list: [1, 'x', null], s: 'v' } };
    const bytes = encodeTyped(runtime);
    assert.deepEqual(decodeTyped(TypeUrl.Runtime, bytes), runtime);
    const value = envoyProtoRoot().lookupType('google.protobuf.Value');
    const layer = (envoyProtoRoot().lookupType('envoy.service.runtime.v3.Runtime').decode(bytes) as unknown as { layer: { fields: Record<string, unknown> } }).layer;
    for (const v of Object.values(layer.fields)) assert.ok(topLevelTags(value.encode(v as protobuf.Message).finish()).length === 1);
  });
});

describe('fields added at load time', () => {
  it('are resolved like the rest, so nested enums encode by name', () => {
    const f = envoyProtoRoot().lookupType('envoy.config.route.v3.RouteAction.RequestMirrorPolicy').fields.request_headers_mutations!;
    assert.equal(f.resolvedType?.fullName, '.envoy.config.common.mutation_rules.v3.HeaderMutation');
    const json = { cluster: 'm', request_headers_mutations: [{ append: { header: { key: 'a', value: 'b' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }] };
    const bytes = encodeAs('envoy.config.route.v3.RouteAction.RequestMirrorPolicy', json);
    assert.deepEqual(decodeTyped('type.googleapis.com/envoy.config.route.v3.RouteAction.RequestMirrorPolicy', bytes), {
      '@type': 'type.googleapis.com/envoy.config.route.v3.RouteAction.RequestMirrorPolicy',
      ...json,
    });
  });
});
