// Compares a copy's response with the primary's: status, the chosen headers, then the body. Two JSON
// bodies are compared as values, leaving out ignore_json_paths, so each difference names its JSON
// location; other bodies byte for byte; a body over max_body_bytes (on either side) by SHA-256.
// A service that echoes its request (httpbin's /headers, seed 003) echoes what mirroring changes by
// design (the -shadow Host, x-envoy-internal, x-forwarded-for, the policy's header mutations): a JSON
// member named after such a header, holding exactly the primary's and the copy's values, is no difference.
import type { CompareSpec } from '../data-plane-config.js';
import { formatLocation, pathMatches, type JsonPath } from '../../json-path/json-path.js';
import type { HeaderChange } from '../request-headers.js';
import type { CapturedResponse } from './response-capture.js';

/** One way the responses differ. `field` is 'status', 'header:NAME', 'body' or 'json:$.path'. */
export interface Difference {
  readonly field: string;
  readonly primary: string;
  readonly mirror: string;
}

/** Enough to show what differs without one response flooding the report. */
const MAX_DIFFERENCES = 20;
const MAX_VALUE_CHARS = 200;

const ABSENT = '(absent)';

function shorten(text: string): string {
  return text.length <= MAX_VALUE_CHARS ? text : `${text.slice(0, MAX_VALUE_CHARS)}…`;
}

function bodyDigest(r: CapturedResponse): string {
  return `sha256:${r.sha256} (${r.bodyBytes} bytes)`;
}

function parseJson(body: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonText(v: unknown): string {
  return v === undefined ? ABSENT : shorten(JSON.stringify(v));
}

/** A JSON value that is how a service would echo a header's value (absent when the header was). */
function echoes(v: unknown, header: string | undefined): boolean {
  if (header === undefined) return v === undefined;
  if (typeof v === 'string') return v === header || v === header.split(',').join(', ');
  return Array.isArray(v) && v.join(',') === header;
}

class JsonDiff {
  readonly found: Difference[] = [];
  private readonly at: Array<string | number> = [];

  constructor(
    private readonly ignore: readonly JsonPath[],
    /** By lower-case header name. */
    private readonly echoed: ReadonlyMap<string, HeaderChange>,
  ) {}

  // `undefined` is a side where the member or element is absent: JSON itself has no undefined.
  walk(a: unknown, b: unknown): void {
    if (this.found.length >= MAX_DIFFERENCES) return;
    if (this.ignore.some((p) => pathMatches(p, this.at))) return;
    if (isRecord(a) && isRecord(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        this.child(key, Object.hasOwn(a, key) ? a[key] : undefined, Object.hasOwn(b, key) ? b[key] : undefined);
      }
    } else if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) this.child(i, a[i], b[i]);
    } else if (a !== b) {
      this.found.push({ field: `json:${formatLocation(this.at)}`, primary: jsonText(a), mirror: jsonText(b) });
    }
  }

  private isEchoedChange(key: string, a: unknown, b: unknown): boolean {
    const c = this.echoed.get(key.toLowerCase());
    return c !== undefined && echoes(a, c.primary) && echoes(b, c.copy);
  }

  private child(part: string | number, a: unknown, b: unknown): void {
    if (typeof part === 'string' && this.isEchoedChange(part, a, b)) return;
    this.at.push(part);
    this.walk(a, b);
    this.at.pop();
  }
}

function jsonDifferences(spec: CompareSpec, primary: Buffer, mirror: Buffer, changes: readonly HeaderChange[]): Difference[] | undefined {
  const a = parseJson(primary);
  const b = a && parseJson(mirror);
  if (!a || !b) return undefined;
  const diff = new JsonDiff(spec.ignoreJsonPaths, new Map(changes.map((c) => [c.name, c])));
  try {
    diff.walk(a.value, b.value);
  } catch (e) {
    // Nesting deeper than the stack: compare those bodies as bytes instead.
    if (e instanceof RangeError) return undefined;
    throw e;
  }
  return diff.found;
}

function bodyDifferences(spec: CompareSpec, primary: CapturedResponse, mirror: CapturedResponse, changes: readonly HeaderChange[]): Difference[] {
  if (primary.body === null || mirror.body === null) {
    return primary.sha256 === mirror.sha256 ? [] : [{ field: 'body', primary: bodyDigest(primary), mirror: bodyDigest(mirror) }];
  }
  if (primary.json && mirror.json) {
    const found = jsonDifferences(spec, primary.body, mirror.body, changes);
    if (found) return found;
  }
  if (primary.body.equals(mirror.body)) return [];
  return [{ field: 'body', primary: shorten(primary.body.toString('utf8')), mirror: shorten(mirror.body.toString('utf8')) }];
}

/** Every difference between the two responses, at most MAX_DIFFERENCES; empty when they match. */
export function compareResponses(spec: CompareSpec, primary: CapturedResponse, mirror: CapturedResponse, changes: readonly HeaderChange[]): Difference[] {
  const out: Difference[] = [];
  if (primary.status !== mirror.status) out.push({ field: 'status', primary: String(primary.status), mirror: String(mirror.status) });
  for (const name of spec.headers) {
    const a = primary.headers.get(name);
    const b = mirror.headers.get(name);
    if (a !== b) out.push({ field: `header:${name}`, primary: shorten(a ?? ABSENT), mirror: shorten(b ?? ABSENT) });
  }
  out.push(...bodyDifferences(spec, primary, mirror, changes));
  return out.slice(0, MAX_DIFFERENCES);
}
