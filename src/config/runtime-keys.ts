// The default runtime key of a mirror policy: built from names, not positions, so that it survives
// edits elsewhere in the file and an operator's runtime override keeps pointing at the same mirror.
import type { MirrorConfig } from './schema.js';

export const RUNTIME_KEY_PREFIX = 'shadowplane.mirror';

/** Where a mirror list sits: a listener, a virtual host in it, or a route in that. */
export interface MirrorScope {
  readonly listener: string;
  readonly virtualHost?: string;
  /** The route's name, or `route<index>` for an unnamed route. */
  readonly route?: string;
}

export function mirrorTargetName(m: MirrorConfig): string {
  return m.cluster ?? `header-${m.cluster_header ?? ''}`;
}

export function defaultRuntimeKey(scope: MirrorScope, m: MirrorConfig): string {
  // A route name may be free text; the key keeps to the characters runtime keys are written with.
  const route = scope.route?.replace(/[^A-Za-z0-9_.-]/g, '_');
  const parts = [RUNTIME_KEY_PREFIX, scope.listener, scope.virtualHost, route, mirrorTargetName(m)];
  return parts.filter((p): p is string => p !== undefined).join('.');
}

export function routeKey(name: string | undefined, index: number): string {
  return name ?? `route${index}`;
}
