// `serve --data-plane builtin`: the TypeScript data path runs in the control plane's process and is
// fed the very snapshot an Envoy node would get over ADS, runtime layer included.
import type { Logger } from 'pino';
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { runtimeValuesFromLayers, type DataPlane } from '../proxy/index.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';
import { snapshotResources } from '../xds/snapshot.js';

/** Applies every published version to `plane`; resolves once the current one is applied. */
export async function feedBuiltinDataPlane(cache: SnapshotCache, plane: DataPlane, node: NodeInfo, logger: Logger): Promise<() => void> {
  const applyCurrent = async (): Promise<void> => {
    const s = cache.snapshotFor(node);
    if (!s) return;
    const resources = snapshotResources(s);
    const result = await plane.apply(resources, runtimeValuesFromLayers(resources.runtime ?? []));
    if (result.ok) logger.info({ configVersion: s.configVersion }, 'built-in data plane applied the config');
    else logger.error({ configVersion: s.configVersion, error: result.error.message }, 'built-in data plane rejected the config; it keeps the previous one');
  };
  const onUpdate = (): void => void applyCurrent();
  cache.on('update', onUpdate);
  await applyCurrent();
  return () => cache.off('update', onUpdate);
}
