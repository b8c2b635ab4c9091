// Converts between the proto3 JSON form Envoy documents and dumps (snake_case names, "1.5s" durations,
// bare wrapper values, enum names, Any as {"@type": …}) and protobuf bytes, using the loaded
// definitions. protobufjs's own fromObject/toObject know none of these well-known-type mappings.
import protobuf from 'protobufjs';
import { envoyProtoRoot } from './proto-root.js';
import { messageNameOf, typeUrlOf } from './type-urls.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A resource in proto3 JSON form whose message type is named by `@type`. */
export type TypedJson = JsonObject & { '@type': string };

/** A JSON value that does not fit the message it is meant to encode, with the path to it. */
export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'ProtoJsonError';
  }
}

const WRAPPERS = new Set([
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.FloatValue',
  '.google.protobuf.DoubleValue',
]);

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

function parseDuration(text: string, path: string): { seconds: number; nanos: number } {
  const m = DURATION_RE.exec(text);
  if (!m) throw new ProtoJsonError(path, `"${text}" is not a duration like "1.5s"`);
  const sign = m[1] ? -1 : 1;
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return { seconds: sign * Number(m[2]), nanos: sign * nanos };
}

/** Protobuf's canonical JSON duration: 0, 3, 6 or 9 fractional digits. */
export function formatDuration(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const sign = seconds < 0 || nanos < 0 ? '-' : '';
  const frac = String(Math.abs(nanos)).padStart(9, '0');
  const digits = frac.endsWith('000000') ? frac.slice(0, 3) : frac.endsWith('000') ? frac.slice(0, 6) : frac;
  return `${sign}${Math.abs(seconds)}.${digits}s`;
}

function lookupMessage(root: protobuf.Root, typeUrl: string, path: string): protobuf.Type {
  try {
    return root.lookupType(messageNameOf(typeUrl));
  } catch {
    throw new ProtoJsonError(path, `unknown message type "${typeUrl}"`);
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- JSON → protobufjs plain object (then fromObject/encode) ----

function fieldFromJson(field: protobuf.Field, value: JsonValue, path: string, root: protobuf.Root): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) {
    if (typeof value === 'number') return value;
    const n = typeof value === 'string' ? t.values[value] : undefined;
    if (n === undefined) throw new ProtoJsonError(path, `"${String(value)}" is not a value of ${t.name}`);
    return n;
  }
  if (t instanceof protobuf.Type) return messageFromJson(t, value, path, root);
  if (field.type === 'bytes') {
    if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected base64 bytes');
    return Buffer.from(value, 'base64');
  }
  // Numbers, bools and strings encode as they are (64-bit integers as decimal strings or numbers).
  return value;
}

function messageFromJson(type: protobuf.Type, value: JsonValue, path: string, root: protobuf.Root): unknown {
  const fullName = type.fullName;
  if (fullName === '.google.protobuf.Duration') {
    if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected a duration string like "1.5s"');
    return parseDuration(value, path);
  }
  if (WRAPPERS.has(fullName)) return { value };
  if (fullName === '.google.protobuf.Any') {
    if (!isObject(value) || typeof value['@type'] !== 'string') {
      throw new ProtoJsonError(path, 'expected an object with "@type"');
    }
    return { type_url: value['@type'], value: encodeTyped(value as TypedJson, path, root) };
  }
  if (!isObject(value)) throw new ProtoJsonError(path, `expected an object for ${type.name}`);
  if (fullName === '.google.protobuf.Struct') return structFromJson(value);

  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '@type') continue;
    const field = type.fields[key];
    const fieldPath = `${path}.${key}`;
    if (!field) throw new ProtoJsonError(fieldPath, `${type.name} has no field "${key}"`);
    const v = value[key]!;
    if (field.map) {
      if (!isObject(v)) throw new ProtoJsonError(fieldPath, 'expected a map object');
      const m: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) m[k] = fieldFromJson(field, v[k]!, `${fieldPath}.${k}`, root);
      out[key] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new ProtoJsonError(fieldPath, 'expected a list');
      out[key] = v.map((item, i) => fieldFromJson(field, item, `${fieldPath}[${i}]`, root));
    } else {
      out[key] = fieldFromJson(field, v, fieldPath, root);
    }
  }
  return out;
}

// protobufjs ships google/protobuf/struct.proto with camelCase field names (nullValue, …), whatever
// keepCase says, so Struct and Value are built with those names.
function structValueFromJson(v: JsonValue): unknown {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(structValueFromJson) } };
  return { structValue: structFromJson(v) };
}

function structFromJson(obj: JsonObject): unknown {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) fields[k] = structValueFromJson(obj[k]!);
  return { fields };
}

/** Encodes a `{"@type": …}` object to the bytes of the message it names. */
export function encodeTyped(resource: TypedJson, path = '$', root = envoyProtoRoot()): Uint8Array {
  const type = lookupMessage(root, resource['@type'], path);
  return encodeMessage(type, resource, path, root);
}

/** Encodes proto3 JSON as the named message (no `@type` needed). */
export function encodeAs(messageName: string, json: JsonObject, path = '$', root = envoyProtoRoot()): Uint8Array {
  return encodeMessage(root.lookupType(messageName), json, path, root);
}

// The converted object already has protobufjs's runtime shape (enum numbers, bytes as buffers, nested
// plain objects), so it is encoded directly: fromObject would only copy it into message instances.
function encodeMessage(type: protobuf.Type, json: JsonObject, path: string, root: protobuf.Root): Uint8Array {
  const plain = messageFromJson(type, json, path, root) as Record<string, unknown>;
  return type.encode(plain).finish();
}

// ---- bytes → JSON ----

const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, bytes: String, defaults: false };

function fieldToJson(field: protobuf.Field, value: unknown, root: protobuf.Root): JsonValue {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return messageToJson(t, value as Record<string, unknown>, root);
  return value as JsonValue;
}

function messageToJson(type: protobuf.Type, obj: Record<string, unknown>, root: protobuf.Root): JsonValue {
  const fullName = type.fullName;
  if (fullName === '.google.protobuf.Duration') {
    return formatDuration(Number(obj.seconds ?? 0), Number(obj.nanos ?? 0));
  }
  if (WRAPPERS.has(fullName)) return (obj.value ?? defaultWrapperValue(fullName)) as JsonValue;
  if (fullName === '.google.protobuf.Any') {
    const typeUrl = String(obj.type_url ?? '');
    const bytes = Buffer.from(String(obj.value ?? ''), 'base64');
    return decodeTyped(typeUrl, bytes, root);
  }
  if (fullName === '.google.protobuf.Struct') return structToJson(obj);
  const out: JsonObject = {};
  // Field declaration order, so the JSON reads like Envoy's docs and config dumps.
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined) continue;
    if (field.map) {
      const m: JsonObject = {};
      for (const k of Object.keys(v as object).sort()) m[k] = fieldToJson(field, (v as Record<string, unknown>)[k], root);
      out[field.name] = m;
    } else if (field.repeated) {
      out[field.name] = (v as unknown[]).map((item) => fieldToJson(field, item, root));
    } else {
      out[field.name] = fieldToJson(field, v, root);
    }
  }
  return out;
}

function defaultWrapperValue(fullName: string): JsonValue {
  if (fullName === '.google.protobuf.BoolValue') return false;
  if (fullName === '.google.protobuf.StringValue' || fullName === '.google.protobuf.BytesValue') return '';
  if (fullName.endsWith('64Value')) return '0';
  return 0;
}

function structValueToJson(v: Record<string, unknown>): JsonValue {
  if ('numberValue' in v) return v.numberValue as number;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('listValue' in v) {
    const values = ((v.listValue as Record<string, unknown>).values ?? []) as Record<string, unknown>[];
    return values.map(structValueToJson);
  }
  if ('structValue' in v) return structToJson(v.structValue as Record<string, unknown>);
  return null;
}

function structToJson(obj: Record<string, unknown>): JsonObject {
  const fields = (obj.fields ?? {}) as Record<string, Record<string, unknown>>;
  const out: JsonObject = {};
  for (const k of Object.keys(fields).sort()) out[k] = structValueToJson(fields[k]!);
  return out;
}

/** Decodes bytes of the message named by `typeUrl` into `{"@type": typeUrl, …}`. */
export function decodeTyped(typeUrl: string, bytes: Uint8Array, root = envoyProtoRoot()): TypedJson {
  const type = lookupMessage(root, typeUrl, '$');
  const obj = type.toObject(type.decode(bytes), TO_OBJECT);
  return { '@type': typeUrl, ...(messageToJson(type, obj, root) as JsonObject) };
}

/** Wraps proto3 JSON of a named message with its `@type`. */
export function typed(messageName: string, json: JsonObject): TypedJson {
  return { '@type': typeUrlOf(messageName), ...json };
}

/**
 * Round-trips a resource through its protobuf encoding: fields end in Envoy's declaration order,
 * defaults drop out, and a field the message lacks is an error. What comes back is what Envoy gets.
 */
export function canonicalize(resource: TypedJson, path = '$'): TypedJson {
  return decodeTyped(resource['@type'], encodeTyped(resource, path));
}
