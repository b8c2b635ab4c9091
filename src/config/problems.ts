// Every way a config can be wrong, as a typed value with a stable code, a field path and a position.
// README.md documents each code (test/problems.test.ts keeps that true).

export const ProblemCode = {
  YAML_SYNTAX: 'SP001',
  SCHEMA: 'SP002',
  UNKNOWN_CLUSTER: 'SP003',
  UNKNOWN_ALLOWED_CLUSTER: 'SP004',
  DUPLICATE_NAME: 'SP005',
  PORT_CONFLICT: 'SP006',
  PERCENT_RANGE: 'SP007',
  MIRROR_TARGET: 'SP008',
  BAD_ADDRESS: 'SP009',
  BAD_REGEX: 'SP010',
  CLUSTER_TYPE: 'SP011',
  TOO_MANY_HEADER_MIRRORS: 'SP012',
  BAD_JSON_PATH: 'SP013',
  // Imported formats (Gateway API, Istio, APISIX): the Gateway API reason each stands for is named in its message.
  IMPORT_UNSUPPORTED: 'SP014',
  IMPORT_UNKNOWN_KIND: 'SP015',
  IMPORT_BACKEND_NOT_FOUND: 'SP016',
  IMPORT_REF_NOT_PERMITTED: 'SP017',
  IMPORT_INVALID_KIND: 'SP018',
  IMPORT_NO_PARENT: 'SP019',
  IMPORT_DUPLICATE: 'SP020',
  IMPORT_INVALID_VALUE: 'SP021',
  HEADER_MIRROR_WITHOUT_ALLOWLIST: 'SP101',
  UNUSED_CLUSTER: 'SP102',
  IMPORT_IGNORED: 'SP103',
  IMPORT_APPROXIMATED: 'SP104',
  FILE_READ: 'SP201',
  INCONSISTENT_RESOURCES: 'SP301',
} as const;

export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

export type Severity = 'error' | 'warning';

/** A field path into the config, e.g. ['listeners', 0, 'virtual_hosts', 1, 'routes', 2]. */
export type FieldPath = ReadonlyArray<string | number>;

export interface ConfigProblem {
  readonly code: ProblemCode;
  readonly severity: Severity;
  readonly file: string;
  /** 1-based; 0 when the problem has no place in the file (it could not be read). */
  readonly line: number;
  readonly col: number;
  readonly path: FieldPath;
  readonly message: string;
  /** For an imported document, the resource it describes: `HTTPRoute/default/http-mirror`. */
  readonly resource?: string;
}

/** `listeners[0].virtual_hosts[1].routes[2].mirrors[0].cluster` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/**
 * `configs/x.yaml:12:5 routes[2].mirrors[0].cluster: unknown cluster "shadow" [SP003]`, and for an
 * imported document `routes.yaml:14:11 HTTPRoute/default/http-mirror: spec.rules[0].backendRefs[0]: … [SP016]`.
 */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  const subject = [p.resource, p.path.length > 0 ? formatPath(p.path) : undefined].filter((s) => s !== undefined).join(': ');
  const level = p.severity === 'warning' ? 'warning: ' : '';
  return `${where}${subject === '' ? '' : ` ${subject}`}: ${level}${p.message} [${p.code}]`;
}

/** A problem found before positions are known: the loader places it in the file by its path. */
export interface UnplacedProblem {
  readonly code: ProblemCode;
  readonly severity: Severity;
  readonly path: FieldPath;
  readonly message: string;
  /** Point at the key rather than its value (unknown or duplicated keys). */
  readonly atKey?: boolean;
}

export function error(code: ProblemCode, path: FieldPath, message: string): UnplacedProblem {
  return { code, severity: 'error', path, message };
}

export function warning(code: ProblemCode, path: FieldPath, message: string): UnplacedProblem {
  return { code, severity: 'warning', path, message };
}
