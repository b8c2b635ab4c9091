// A resource encoded once: the protobuf bytes of its `google.protobuf.Any`, shared by every stream
// that sends it, plus a content hash that serves as its delta-xDS version.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { encodeTyped, type TypedJson } from '../envoy-api/proto-json.js';

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
 * Encodes resources, reusing the encoding of any resource whose JSON is unchanged since the previous
 * config version, so an edit re-encodes only what it touched.
 */
export class ResourceEncoder {
  private previous = new Map<string, EncodedResource>();
  private current = new Map<string, EncodedResource>();

  encode(json: TypedJson): EncodedResource {
    const key = JSON.stringify(json);
    const hit = this.current.get(key) ?? this.previous.get(key);
    if (hit) {
      this.current.set(key, hit);
      return hit;
    }
    const any = encodeAny(json['@type'], encodeTyped(json));
    const encoded: EncodedResource = {
      name: resourceName(json),
      typeUrl: json['@type'],
      json,
      any,
      version: createHash('sha256').update(any).digest('hex').slice(0, 16),
    };
    this.current.set(key, encoded);
    return encoded;
  }

  /** Called once per config version: what the last version did not reuse is let go. */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}
