// What Envoy does to request headers on the way through, with the HttpConnectionManager and router
// defaults that shadowplane's listeners use (use_remote_address off, Envoy headers not suppressed).
// Each rule here was observed on Envoy 1.40 (test/conformance.test.ts, test/proxy-mirror.test.ts).
import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { HeaderMutationSpec, MirrorPolicySpec, PathRewrite } from './data-plane-config.js';
import type { HeaderList } from './header-list.js';

// Hop-by-hop headers never go upstream. `expect` is answered here (node sends 100 Continue).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'expect', 'te'];

// ConnectionManagerUtility::cleanInternalHeaders: a request that is not internal (without
// use_remote_address, none is) may not steer Envoy. x-envoy-internal is dropped as well.
const INTERNAL_ONLY = new Set([
  'x-envoy-internal',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
]);

/** Every header the connection manager removes, whatever the request (`te` is put back when it asked for trailers). */
const ALWAYS_REMOVED = new Set([...HOP_BY_HOP, ...INTERNAL_ONLY]);
const alwaysRemoved = (name: string): boolean => ALWAYS_REMOVED.has(name);

function tokens(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
}

/**
 * The connection manager's part: hop-by-hop headers out (including those the Connection header
 * names, and `te` except for "trailers"), internal-only headers out, x-forwarded-proto set to "http"
 * when absent, an x-request-id generated when absent. x-forwarded-for is left alone: Envoy appends
 * to it only with use_remote_address.
 */
export function sanitizeDownstreamHeaders(h: HeaderList): void {
  const nominated = h.has('connection') ? new Set(tokens(h.values('connection')).filter((t) => t !== 'host')) : undefined;
  const keepTrailers = h.has('te') && tokens(h.values('te')).includes('trailers');
  // One pass over the headers; most requests name nothing in Connection.
  h.removeWhere(nominated ? (name) => ALWAYS_REMOVED.has(name) || nominated.has(name) : alwaysRemoved);
  if (keepTrailers) h.append('te', 'trailers');
  if (!h.has('x-forwarded-proto')) h.append('x-forwarded-proto', 'http');
  if (!h.has('x-request-id')) h.append('x-request-id', randomUUID());
}

export interface RouteRewrite {
  readonly requestHeaderMutations: readonly HeaderMutationSpec[];
  readonly pathRewrite: PathRewrite | undefined;
  readonly hostRewrite: string | undefined;
  readonly timeoutMs: number;
}

/** The path with the route's rewrite applied; a regex rewrite leaves the query alone. */
function rewrittenPath(r: PathRewrite, path: string, matchedLength: number): string {
  if (r.kind === 'prefix') return r.value + path.slice(matchedLength);
  const q = path.indexOf('?');
  const bare = q < 0 ? path : path.slice(0, q);
  return r.rewrite.replaceAll(bare) + path.slice(bare.length);
}

/**
 * The router's part (RouteEntry::finalizeRequestHeaders and FilterUtility::finalTimeout): the
 * route's request header mutations, then the rewrites, with the originals kept in
 * x-envoy-original-path / x-envoy-original-host, and the route timeout announced in
 * x-envoy-expected-rq-timeout-ms. Returns the path to send. Mirrors copy the result.
 */
export function finalizeRouteHeaders(h: HeaderList, r: RouteRewrite, path: string, matchedLength: number): string {
  applyRouteHeaderMutations(h, r.requestHeaderMutations);
  let upstreamPath = path;
  if (r.pathRewrite !== undefined) {
    upstreamPath = rewrittenPath(r.pathRewrite, path, matchedLength);
    h.set('x-envoy-original-path', path);
  }
  if (r.hostRewrite !== undefined) {
    h.set('x-envoy-original-host', h.first('host') ?? '');
    h.set('host', r.hostRewrite);
  }
  if (r.timeoutMs > 0) h.set('x-envoy-expected-rq-timeout-ms', String(r.timeoutMs));
  return upstreamPath;
}

/** Where the port starts in an authority (Envoy's HeaderUtility::getPortStart), or -1. */
function portStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf(']');
  return v6End < 0 || v6End < colon ? colon : -1;
}

/** `host` → `host-shadow`, `host:8080` → `host-shadow:8080`, `[::1]:80` → `[::1]-shadow:80`. */
function shadowAppendedHost(host: string): string {
  const at = portStart(host);
  return at < 0 ? `${host}-shadow` : `${host.slice(0, at)}-shadow${host.slice(at)}`;
}

function applyMutation(h: HeaderList, m: HeaderMutationSpec): void {
  if (m.kind === 'remove') {
    h.remove(m.name);
    return;
  }
  // Envoy drops an appended header whose value is empty unless keep_empty_value is set.
  if (m.value === '') return;
  switch (m.action) {
    case 'APPEND_IF_EXISTS_OR_ADD':
      h.append(m.name, m.value);
      break;
    case 'ADD_IF_ABSENT':
      if (!h.has(m.name)) h.append(m.name, m.value);
      break;
    // An overwrite removes every value and adds the new one last (the order Envoy 1.40 sends).
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      h.remove(m.name);
      h.append(m.name, m.value);
      break;
    case 'OVERWRITE_IF_EXISTS':
      if (!h.has(m.name)) break;
      h.remove(m.name);
      h.append(m.name, m.value);
      break;
  }
}

/**
 * A route's request_headers_to_remove / _to_add as Envoy's HeaderParser applies them: every remove,
 * then (each decided against the headers as they are then) every overwrite, then every append.
 * A mirror's request_headers_mutations, by contrast, apply one after another (applyMutation).
 */
function applyRouteHeaderMutations(h: HeaderList, mutations: readonly HeaderMutationSpec[]): void {
  if (mutations.length === 0) return;
  const overwrite: HeaderMutationSpec[] = [];
  const append: HeaderMutationSpec[] = [];
  for (const m of mutations) if (m.kind === 'remove') h.remove(m.name);
  for (const m of mutations) {
    if (m.kind === 'remove' || m.value === '') continue;
    if (m.action === 'APPEND_IF_EXISTS_OR_ADD' || (m.action === 'ADD_IF_ABSENT' && !h.has(m.name))) append.push(m);
    else if (m.action === 'OVERWRITE_IF_EXISTS_OR_ADD' || (m.action === 'OVERWRITE_IF_EXISTS' && h.has(m.name))) overwrite.push(m);
  }
  for (const m of overwrite) applyMutation(h, { ...m, action: 'OVERWRITE_IF_EXISTS_OR_ADD' } as HeaderMutationSpec);
  for (const m of append) applyMutation(h, { ...m, action: 'APPEND_IF_EXISTS_OR_ADD' } as HeaderMutationSpec);
}

export interface ShadowHeaderOptions {
  /** The address Envoy appends to a copy's x-forwarded-for (its local address). */
  readonly localAddress: string;
  /** Optional marker on every copy (not an Envoy feature; off unless configured). */
  readonly marker: { readonly name: string; readonly value: string } | undefined;
}

/**
 * A mirror's headers, from the primary's finalized ones: the policy's mutations, then its host
 * rewrite or else the `-shadow` suffix (a host rewrite wins over the suffix), then what Envoy's async
 * client adds to every shadow: x-envoy-internal and the local address appended to x-forwarded-for.
 */
export function shadowHeaders(primary: HeaderList, policy: MirrorPolicySpec, o: ShadowHeaderOptions): HeaderList {
  const h = primary.clone();
  for (const m of policy.headerMutations) applyMutation(h, m);
  if (policy.hostRewrite !== undefined) h.set('host', policy.hostRewrite);
  else if (policy.hostSuffix) h.set('host', shadowAppendedHost(h.first('host') ?? ''));
  h.set('x-envoy-internal', 'true');
  const xff = h.values('x-forwarded-for');
  h.set('x-forwarded-for', xff.length > 0 ? `${xff.join(',')},${o.localAddress}` : o.localAddress);
  if (o.marker) h.set(o.marker.name, o.marker.value);
  return h;
}

/** A request header the copy carries with another value than the primary (or only one of them carries). */
export interface HeaderChange {
  readonly name: string;
  /** The values joined with ","; undefined when absent. */
  readonly primary: string | undefined;
  readonly copy: string | undefined;
}

/** What the copy's headers say differently from the primary's: the shadow host, x-envoy-internal, x-forwarded-for, mutations. */
export function headerChanges(primary: HeaderList, copy: HeaderList): HeaderChange[] {
  const joined = (h: HeaderList, name: string): string | undefined => (h.has(name) ? h.values(name).join(',') : undefined);
  return [...new Set([...primary.names(), ...copy.names()])].flatMap((name) => {
    const a = joined(primary, name);
    const b = joined(copy, name);
    return a === b ? [] : [{ name, primary: a, copy: b }];
  });
}

/** Envoy's local address: the first non-loopback IPv4 address of the machine, else loopback. */
export function defaultLocalAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    const v4 = list?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.1';
}
