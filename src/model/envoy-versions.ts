// Fields of Envoy's API that only newer Envoys understand. An older Envoy NACKs a resource that
// carries them, so the model records which it uses and the server can gate them per proxy.

export const MIRROR_HEADER_MUTATIONS = { feature: 'RequestMirrorPolicy.request_headers_mutations', minEnvoyVersion: '1.36.0' } as const;
export const MIRROR_HOST_REWRITE = { feature: 'RequestMirrorPolicy.host_rewrite_literal', minEnvoyVersion: '1.36.0' } as const;

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function maxVersion(versions: ReadonlyArray<string | undefined>): string | undefined {
  return versions.reduce<string | undefined>(
    (acc, v) => (v === undefined ? acc : acc === undefined || compareVersions(v, acc) > 0 ? v : acc),
    undefined,
  );
}
