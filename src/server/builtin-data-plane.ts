// `serve --data-plane builtin`: the TypeScript data path runs in the control plane's process and is
// fed the very snapshot an Envoy node would get over ADS, runtime layer included.
import type { Logger } from 'pino';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import type { JsonObject, TypedJson } from '../envoy-api/proto-json.js';
import { TypeUrl } from '../envoy-api/type-urls.js';
import type { DataPlane, RuntimeValues } from '../proxy/index.js';
import { runtimeValuesFromLayer } from '../proxy/index.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';
import type { Snapshot } from '../xds/snapshot.js';

function jsonOf(s: Snapshot, typeUrl: string): TypedJson[] {
  return [...(s.types.get(typeUrl)?.resources.values() ?? [])].map((r) => r.json);
}

/** The runtime layer's entries (mirror runtime_key → FractionalPercent), as the data plane takes them. */
function runtimeOf(s: Snapshot): RuntimeValues {
  return runtimeValuesFromLayer((jsonOf(s, TypeUrl.Runtime)[0]?.layer ?? {}) as JsonObject);
}

/** Applies every published version to `plane`; resolves once the current one is applied. */
export async function feedBuiltinDataPlane(cache: SnapshotCache, plane: DataPlane, node: NodeInfo, logger: Logger): Promise<() => void> {
  const applyCurrent = async (): Promise<void> => {
    const s = cache.snapshotFor(node);
    if (!s) return;
    const result = await plane.apply(
      {
        listeners: jsonOf(s, TypeUrl.Listener),
        routes: jsonOf(s, TypeUrl.RouteConfiguration),
        clusters: jsonOf(s, TypeUrl.Cluster),
        endpoints: jsonOf(s, TypeUrl.ClusterLoadAssignment),
      },
      runtimeOf(s),
    );
    if (result.ok) logger.info({ configVersion: s.configVersion }, 'built-in data plane applied the config');
    else logger.error({ configVersion: s.configVersion, error: result.error.message }, 'built-in data plane rejected the config; it keeps the previous one');
  };
  const onUpdate = (): void => void applyCurrent();
  cache.on('update', onUpdate);
  await applyCurrent();
  return () => cache.off('update', onUpdate);
}
