// Reads an imported document field by field, each problem placed at its own key. A field that no
// reader takes is reported when the object is finished: an importer supports a subset of each
// format, and ignoring the rest silently would serve something other than what the user wrote.
// Fields that carry nothing to serve (status, bookkeeping) are taken explicitly, with a warning
// where ignoring them could surprise.
import { ProblemCode, type ConfigProblem, type ProblemCode as Code } from '../problems.js';
import { problemAt, type SourceRef } from './source.js';

export function child(at: SourceRef, ...keys: Array<string | number>): SourceRef {
  return { ...at, path: [...at.path, ...keys], shown: [...at.shown, ...keys] };
}

/** How an importer words an unsupported field (Gateway API names its condition and reason). */
export interface Dialect {
  /** e.g. "the Gateway API import" */
  readonly importer: string;
  /** appended to an unsupported field's message, e.g. " (Accepted=False, reason UnsupportedValue)" */
  readonly unsupportedReason: string;
}

export class ImportProblems {
  readonly items: ConfigProblem[] = [];

  add(at: SourceRef, code: Code, message: string, atKey = false): void {
    this.items.push(problemAt(at, code, 'error', message, atKey));
  }

  warn(at: SourceRef, code: Code, message: string, atKey = false): void {
    this.items.push(problemAt(at, code, 'warning', message, atKey));
  }

  get errorCount(): number {
    return this.items.filter((p) => p.severity === 'error').length;
  }
}

type Scalar = string | number | boolean;

export class Fields {
  private readonly taken = new Set<string>();

  private constructor(
    private readonly obj: Readonly<Record<string, unknown>>,
    readonly at: SourceRef,
    readonly problems: ImportProblems,
    readonly dialect: Dialect,
  ) {}

  /** The mapping at `at`, or undefined after reporting that it is not one. */
  static open(value: unknown, at: SourceRef, problems: ImportProblems, dialect: Dialect): Fields | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add(at, ProblemCode.IMPORT_INVALID_VALUE, 'expected a mapping');
      return undefined;
    }
    return new Fields(value as Record<string, unknown>, at, problems, dialect);
  }

  /** The same object as seen from another resource label (a Kubernetes object once its name is known). */
  as(resource: string): Fields {
    const f = new Fields(this.obj, { ...this.at, resource, shown: [] }, this.problems, this.dialect);
    for (const k of this.taken) f.taken.add(k);
    return f;
  }

  ref(key: string | number): SourceRef {
    return child(this.at, key);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  keys(): string[] {
    return Object.keys(this.obj);
  }

  raw(key: string): unknown {
    this.taken.add(key);
    return this.obj[key];
  }

  invalid(key: string | undefined, message: string): void {
    this.problems.add(key === undefined ? this.at : this.ref(key), ProblemCode.IMPORT_INVALID_VALUE, message);
  }

  unsupported(key: string | undefined, message: string): void {
    this.problems.add(key === undefined ? this.at : this.ref(key), ProblemCode.IMPORT_UNSUPPORTED, `${message}${this.dialect.unsupportedReason}`, key !== undefined);
  }

  private take(key: string, required: boolean): unknown {
    this.taken.add(key);
    const v = this.obj[key];
    if ((v === undefined || v === null) && required) this.invalid(undefined, `missing required field "${key}"`);
    return v === null ? undefined : v;
  }

  private typed<T extends Scalar>(key: string, type: 'string' | 'number' | 'boolean', required: boolean): T | undefined {
    const v = this.take(key, required);
    if (v === undefined) return undefined;
    if (typeof v !== type) {
      this.invalid(key, `expected a ${type}`);
      return undefined;
    }
    return v as T;
  }

  string(key: string, required = false): string | undefined {
    return this.typed<string>(key, 'string', required);
  }

  /** A string, or a number written where a string is meant (YAML reads `id: 1` as a number). */
  id(key: string, required = false): string | undefined {
    const v = this.take(key, required);
    if (v === undefined) return undefined;
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
    this.invalid(key, 'expected a string or a number');
    return undefined;
  }

  number(key: string, required = false): number | undefined {
    return this.typed<number>(key, 'number', required);
  }

  integer(key: string, min: number, max: number, required = false): number | undefined {
    const n = this.number(key, required);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.invalid(key, `expected an integer from ${min} to ${max}, got ${n}`);
      return undefined;
    }
    return n;
  }

  boolean(key: string): boolean | undefined {
    return this.typed<boolean>(key, 'boolean', false);
  }

  object(key: string, required = false): Fields | undefined {
    const v = this.take(key, required);
    return v === undefined ? undefined : Fields.open(v, this.ref(key), this.problems, this.dialect);
  }

  list(key: string, required = false): Array<{ readonly value: unknown; readonly at: SourceRef }> {
    const v = this.take(key, required);
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.invalid(key, 'expected a list');
      return [];
    }
    return v.map((value: unknown, i) => ({ value, at: child(this.at, key, i) }));
  }

  objects(key: string, required = false): Fields[] {
    return this.list(key, required).flatMap((e) => Fields.open(e.value, e.at, this.problems, this.dialect) ?? []);
  }

  strings(key: string, required = false): Array<{ readonly value: string; readonly at: SourceRef }> {
    return this.list(key, required).flatMap((e) => {
      if (typeof e.value === 'string') return [{ value: e.value, at: e.at }];
      this.problems.add(e.at, ProblemCode.IMPORT_INVALID_VALUE, 'expected a string');
      return [];
    });
  }

  /** A map of string values (labels, selectors). */
  stringMap(key: string): Record<string, string> {
    const f = this.object(key);
    if (!f) return {};
    const out: Record<string, string> = {};
    for (const k of f.keys()) {
      const v = f.id(k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /** Fields read elsewhere or that describe nothing served (bookkeeping): taken without a word. */
  ignore(...keys: string[]): void {
    for (const k of keys) this.taken.add(k);
  }

  /** A field that is set but not applied: a warning at its key saying why that is safe. */
  ignoreWithWarning(key: string, why: string): void {
    this.taken.add(key);
    if (this.has(key)) this.problems.warn(this.ref(key), ProblemCode.IMPORT_IGNORED, `"${key}" is ignored: ${why}`, true);
  }

  /** Reports every field no reader took. */
  finish(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.taken.has(key)) this.unsupported(key, `field "${key}" is not supported by ${this.dialect.importer}`);
    }
  }
}
