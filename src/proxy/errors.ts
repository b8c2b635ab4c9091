// Why the data plane refused a resource set, as typed values with stable codes: the built-in data
// path's equivalent of an Envoy NACK. The previous config stays in force whenever one of these is returned.

export const DataPlaneErrorCode = {
  /** A resource is malformed, uses a field this data path does not implement, or refers to nothing. */
  INVALID_RESOURCES: 'DP001',
  /** A listener's address could not be bound. */
  LISTENER_BIND: 'DP002',
  /** The data plane was closed; it takes no more config. */
  CLOSED: 'DP003',
} as const;

export type DataPlaneErrorCode = (typeof DataPlaneErrorCode)[keyof typeof DataPlaneErrorCode];

/** One thing wrong with one field, e.g. `routes[0].virtual_hosts[1].domains[2]: duplicate domain "a"`. */
export interface ResourceProblem {
  readonly path: string;
  readonly message: string;
}

export function formatResourceProblem(p: ResourceProblem): string {
  return `${p.path}: ${p.message}`;
}

abstract class DataPlaneError extends Error {
  abstract readonly code: DataPlaneErrorCode;
  constructor(
    message: string,
    readonly problems: readonly ResourceProblem[],
  ) {
    super(message);
  }
}

export class InvalidResourcesError extends DataPlaneError {
  readonly code = DataPlaneErrorCode.INVALID_RESOURCES;
  override readonly name = 'InvalidResourcesError';
  constructor(problems: readonly ResourceProblem[]) {
    super(problems.map(formatResourceProblem).join('; '), problems);
  }
}

export class ListenerBindError extends DataPlaneError {
  readonly code = DataPlaneErrorCode.LISTENER_BIND;
  override readonly name = 'ListenerBindError';
  constructor(problems: readonly ResourceProblem[]) {
    super(problems.map(formatResourceProblem).join('; '), problems);
  }
}

export class DataPlaneClosedError extends DataPlaneError {
  readonly code = DataPlaneErrorCode.CLOSED;
  override readonly name = 'DataPlaneClosedError';
  constructor() {
    super('the data plane is closed', []);
  }
}

export type ApplyError = InvalidResourcesError | ListenerBindError | DataPlaneClosedError;

export type ApplyResult = { readonly ok: true } | { readonly ok: false; readonly error: ApplyError };
