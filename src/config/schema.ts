// The YAML file's shape, checked with zod. Field names follow Envoy's (snake_case) so each one reads
// as the Envoy field it compiles to. Every field is documented in README.md's reference.
import { z } from 'zod';
import { DENOMINATOR_TYPES } from '../envoy-api/envoy-defaults.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME_RE, 'must start with a letter or digit and hold only letters, digits, ".", "_" or "-"');

/** "250ms", "2s", "1.5s", "1m", "1h". Parsed to milliseconds by the model. */
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const duration = z.string().regex(DURATION_RE, 'must be a duration such as "250ms", "2s" or "1m"');

// RFC 7230 token characters: what a header name may contain.
const headerName = z
  .string()
  .min(1)
  .regex(/^:?[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a valid HTTP header name')
  .transform((s) => s.toLowerCase());

const hostPort = z.string().min(1);

const headerMatch = z
  .strictObject({
    name: headerName,
    exact: z.string().optional(),
    prefix: z.string().min(1).optional(),
    regex: z.string().min(1).optional(),
    present: z.boolean().optional(),
    invert: z.boolean().optional(),
  })
  .refine((h) => [h.exact, h.prefix, h.regex, h.present].filter((x) => x !== undefined).length === 1, {
    message: 'needs exactly one of exact, prefix, regex or present',
  });

// Envoy's QueryParameterMatcher: the name is matched exactly, case-sensitive.
const queryParameterMatch = z
  .strictObject({
    name: z.string().min(1).max(1024),
    exact: z.string().optional(),
    prefix: z.string().min(1).optional(),
    regex: z.string().min(1).optional(),
    present: z.literal(true).optional(),
  })
  .refine((q) => [q.exact, q.prefix, q.regex, q.present].filter((x) => x !== undefined).length === 1, {
    message: 'needs exactly one of exact, prefix, regex or present',
  });

const match = z
  .strictObject({
    prefix: z.string().startsWith('/').optional(),
    // Envoy's own constraint on the field: no query or fragment, and no trailing "/".
    path_separated_prefix: z
      .string()
      .regex(/^\/[^?#]*[^?#/]$/, 'must start with "/", hold no "?" or "#", and not end with "/"')
      .optional(),
    path: z.string().startsWith('/').optional(),
    regex: z.string().min(1).optional(),
    headers: z.array(headerMatch).optional(),
    query_parameters: z.array(queryParameterMatch).min(1).optional(),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method')).min(1).optional(),
    case_sensitive: z.boolean().optional(),
  })
  .refine((m) => [m.prefix, m.path_separated_prefix, m.path, m.regex].filter((x) => x !== undefined).length === 1, {
    message: 'needs exactly one of prefix, path_separated_prefix, path or regex',
  });

const headerList = z.union([
  z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid HTTP header name"), z.string()),
  z.array(z.strictObject({ name: headerName, value: z.string() })),
], { error: 'must be a map of header: value, or a list of { name, value }' });

const headerChanges = z.strictObject({
  add: headerList.optional(),
  set: headerList.optional(),
  remove: z.array(headerName).optional(),
});

const fraction = z.strictObject({
  numerator: z.number().int().min(0),
  denominator: z.enum(DENOMINATOR_TYPES),
});

/** Largest compare.max_body_bytes: a compared body is held whole and parsed on the event loop. */
const MAX_COMPARE_BODY_BYTES = 1024 * 1024;

const compareSchema = z.strictObject({
  headers: z.array(headerName).optional(),
  ignore_json_paths: z.array(z.string()).optional(),
  max_body_bytes: z.number().int().min(0).max(MAX_COMPARE_BODY_BYTES).optional(),
});

/**
 * Where the copy goes instead of the request's path: `replace` sends `value` with the request's query,
 * `prefix` sends `value` followed by the request's whole path and query (APISIX's path_concat_mode).
 */
const mirrorPath = z.strictObject({
  value: z.string().regex(/^\/[^?#\s\\]*$/, 'must start with "/" and hold no "?", "#", "\\" or white space'),
  mode: z.enum(['replace', 'prefix']).optional(),
});

export const mirrorSchema = z.strictObject({
  cluster: name.optional(),
  cluster_header: headerName.optional(),
  allowed_clusters: z.array(name).min(1).optional(),
  percent: z.number().optional(),
  fraction: fraction.optional(),
  runtime_key: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must hold only letters, digits, ".", "_" or "-"').optional(),
  shadow_host_suffix: z.boolean().optional(),
  host_rewrite: z.string().min(1).optional(),
  headers: headerChanges.optional(),
  trace_sampled: z.boolean().optional(),
  compare: compareSchema.optional(),
  path: mirrorPath.optional(),
});

const backendRef = z.strictObject({ cluster: name, weight: z.number().int().min(1) });

/** Envoy's route name is free text (it only labels the route), so anything printable will do. */
const routeName = z.string().min(1).max(256).regex(/^[^\p{Cc}]+$/u, 'must not hold control characters');

const regexRewrite = z.strictObject({ pattern: z.string().min(1), substitution: z.string() });

const routeSchema = z.strictObject({
  name: routeName.optional(),
  match,
  cluster: name.optional(),
  weighted_clusters: z.array(backendRef).min(1).optional(),
  timeout: duration.optional(),
  prefix_rewrite: z.string().optional(),
  regex_rewrite: regexRewrite.optional(),
  host_rewrite: z.string().min(1).optional(),
  request_headers: headerChanges.optional(),
  mirrors: z.array(mirrorSchema).optional(),
}).refine((r) => (r.cluster === undefined) !== (r.weighted_clusters === undefined), {
  message: 'needs exactly one of cluster or weighted_clusters',
}).refine((r) => r.prefix_rewrite === undefined || r.regex_rewrite === undefined, {
  message: 'set prefix_rewrite or regex_rewrite, not both',
});

const virtualHostSchema = z.strictObject({
  name,
  domains: z.array(z.string().min(1)).min(1),
  routes: z.array(routeSchema).min(1),
  mirrors: z.array(mirrorSchema).optional(),
});

const nodeSelector = z
  .strictObject({ id: z.string().min(1).optional(), cluster: z.string().min(1).optional() })
  .refine((n) => n.id !== undefined || n.cluster !== undefined, { message: 'needs id or cluster' });

const listenerSchema = z.strictObject({
  name,
  address: hostPort,
  nodes: z.array(nodeSelector).min(1).optional(),
  mirrors: z.array(mirrorSchema).optional(),
  virtual_hosts: z.array(virtualHostSchema).min(1),
});

const endpoint = z.union([hostPort, z.strictObject({ address: hostPort, weight: z.number().int().min(1).optional() })], {
  error: 'must be "host:port" or { address: "host:port", weight: N }',
});

const clusterSchema = z.strictObject({
  name,
  type: z.enum(['static', 'strict_dns', 'logical_dns']).optional(),
  endpoints: z.array(endpoint).min(1),
  connect_timeout: duration.optional(),
  max_stream_duration: duration.optional(),
  http2: z.boolean().optional(),
  // Envoy's Cluster.dns_lookup_family, for DNS clusters: which address families a name resolves to.
  dns_lookup_family: z.enum(['auto', 'v4_only', 'v6_only', 'v4_preferred', 'all']).optional(),
  tls: z.union([z.boolean(), z.strictObject({ sni: z.string().min(1).optional() })], { error: 'must be true, false or { sni: NAME }' }).optional(),
  circuit_breakers: z
    .strictObject({
      max_connections: z.number().int().min(1).optional(),
      max_pending_requests: z.number().int().min(1).optional(),
      max_requests: z.number().int().min(1).optional(),
      max_retries: z.number().int().min(0).optional(),
    })
    .optional(),
});

/** A top-level list: at least one entry. */
const atLeastOne = <T extends z.ZodType>(entry: T) => z.array(entry).min(1);

/** The file's top-level keys and the schema of one entry of each (the fast path checks entries one by one). */
export const CONFIG_SECTIONS = { listeners: listenerSchema, clusters: clusterSchema } as const;

export const configSchema = z.strictObject({
  listeners: atLeastOne(CONFIG_SECTIONS.listeners),
  clusters: atLeastOne(CONFIG_SECTIONS.clusters),
});

/** configSchema with its entries taken as already checked: the rules of the top level alone. */
export const configSkeletonSchema = z.strictObject(Object.fromEntries(Object.keys(CONFIG_SECTIONS).map((k) => [k, atLeastOne(z.unknown())])));

export type ConfigFile = z.infer<typeof configSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type VirtualHostConfig = z.infer<typeof virtualHostSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type MirrorConfig = z.infer<typeof mirrorSchema>;
export type CompareConfig = z.infer<typeof compareSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type HeaderMatchConfig = z.infer<typeof headerMatch>;
export type HeaderListConfig = z.infer<typeof headerList>;
export type HeaderChangesConfig = z.infer<typeof headerChanges>;
export type QueryParameterMatchConfig = z.infer<typeof queryParameterMatch>;
