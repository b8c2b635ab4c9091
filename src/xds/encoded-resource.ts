// A resource encoded once: the protobuf bytes of its `google.protobuf.Any`, shared by every stream
// that sends it, plus a content hash that serves as its delta-xDS version.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { encodeTyped, type TypedJson } from '../envoy-api/proto-json.js';
import { GenerationMemo } from '../memo/generation-memo.js';

export interface EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** The resource in proto3 JSON form, for config dumps. */
  readonly json: TypedJson;
  /** Bytes of the Any message (type_url + value) ready to embed in a response. */
  readonly any: Uint8Array;
  /** Content hash of the Any bytes: equal bytes, equal version. */
  readonly version: string;
}

/** Envoy names an Listener/Cluster/RouteConfiguration/Runtime by `name`, a ClusterLoadAssignment by `cluster_name`. */
export function resourceName(r: TypedJson): string {
  return String(r.name ?? r.cluster_name ?? '');
}

function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(0x0a).string(typeUrl).uint32(0x12).bytes(value).finish();
}

/**
 * Encodes resources, reusing the encoding of any resource unchanged since the previous config
 * version: first by identity (the translator hands out the very object of last time for an unchanged
 * part, so no work at all), then by JSON text (a resource rebuilt with the same content).
 */
export class ResourceEncoder {
  private readonly byObject = new GenerationMemo<TypedJson, EncodedResource>();
  private readonly byText = new GenerationMemo<string, EncodedResource>();

  encode(json: TypedJson): EncodedResource {
    return this.byObject.get(json, undefined, () => this.byText.get(JSON.stringify(json), undefined, () => encodeResource(json)));
  }

  /** Called once per config version: what the last version did not reuse is let go. */
  nextGeneration(): void {
    this.byObject.nextGeneration();
    this.byText.nextGeneration();
  }
}

function encodeResource(json: TypedJson): EncodedResource {
  const any = encodeAny(json['@type'], encodeTyped(json));
  return {
    name: resourceName(json),
    typeUrl: json['@type'],
    json,
    any,
    version: createHash('sha256').update(any).digest('hex').slice(0, 16),
  };
}
