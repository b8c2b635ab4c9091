// Reads Envoy resources in proto3 JSON form field by field, recording every problem with its path
// instead of stopping at the first. A field that nobody reads is reported as unsupported: the data
// path implements a subset of Envoy, and silently ignoring the rest would make it behave differently.
import type { ResourceProblem } from '../errors.js';

export class ProblemList {
  readonly items: ResourceProblem[] = [];
  add(path: string, message: string): void {
    this.items.push({ path, message });
  }
}

const DURATION_RE = /^(\d+)(?:\.(\d{1,9}))?s$/;

/** Protobuf JSON duration ("0.250s", "15s") → milliseconds, or undefined if it is not one. */
function parseDurationMs(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const nanos = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
  return Number(m[1]) * 1000 + nanos / 1_000_000;
}

export class JsonFields {
  private readonly consumed = new Set<string>(['@type']);

  private constructor(
    private readonly obj: Readonly<Record<string, unknown>>,
    readonly path: string,
    private readonly problems: ProblemList,
  ) {}

  /** The object at `path`, or undefined after recording that it is not one. */
  static open(value: unknown, path: string, problems: ProblemList): JsonFields | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add(path, 'expected an object');
      return undefined;
    }
    return new JsonFields(value as Record<string, unknown>, path, problems);
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  problem(message: string, key?: string): void {
    this.problems.add(key === undefined ? this.path : this.at(key), message);
  }

  private take(key: string): unknown {
    this.consumed.add(key);
    return this.obj[key];
  }

  string(key: string, required = false): string | undefined {
    const v = this.take(key);
    if (v === undefined) {
      if (required) this.problem('is required', key);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.problem('expected a string', key);
      return undefined;
    }
    return v;
  }

  /** A non-empty string (proto `min_len: 1`). */
  name(key: string): string | undefined {
    const v = this.string(key, true);
    if (v === '') this.problem('must not be empty', key);
    return v || undefined;
  }

  boolean(key: string): boolean | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.problem('expected true or false', key);
      return undefined;
    }
    return v;
  }

  /** uint32 is a JSON number; uint64 may also come as a decimal string. */
  uint(key: string): number | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      this.problem('expected a non-negative integer', key);
      return undefined;
    }
    return n;
  }

  durationMs(key: string): number | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseDurationMs(v) : undefined;
    if (ms === undefined) this.problem('expected a non-negative duration like "1.5s"', key);
    return ms;
  }

  enumeration<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.problem(`expected one of ${values.join(', ')}`, key);
      return undefined;
    }
    return v as T;
  }

  object(key: string, required = false): JsonFields | undefined {
    const v = this.take(key);
    if (v === undefined) {
      if (required) this.problem('is required', key);
      return undefined;
    }
    return JsonFields.open(v, this.at(key), this.problems);
  }

  /** Each element of a list field; a missing list is empty. */
  list(key: string): Array<{ readonly value: unknown; readonly path: string }> {
    const v = this.take(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.problem('expected a list', key);
      return [];
    }
    return v.map((value: unknown, i) => ({ value, path: `${this.at(key)}[${i}]` }));
  }

  objects(key: string): JsonFields[] {
    return this.list(key).flatMap((e) => JsonFields.open(e.value, e.path, this.problems) ?? []);
  }

  strings(key: string): string[] {
    return this.list(key).flatMap((e) => {
      if (typeof e.value === 'string') return [e.value];
      this.problems.add(e.path, 'expected a string');
      return [];
    });
  }

  /** Every key of this object, as in a proto map or a Struct, each value opened as an object. */
  entries(): Array<{ readonly key: string; readonly fields: JsonFields }> {
    return Object.keys(this.obj).flatMap((key) => {
      const fields = this.object(key);
      return fields ? [{ key, fields }] : [];
    });
  }

  /** Fields that are accepted and have no effect on this data path (stat names, tracing). */
  accept(...keys: string[]): void {
    for (const k of keys) this.consumed.add(k);
  }

  /** Reports every field that was not read. Call after reading all supported fields. */
  finish(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.consumed.has(key)) this.problem('unsupported field (the built-in data plane does not implement it)', key);
    }
  }
}
