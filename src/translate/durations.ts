import { formatDuration } from '../envoy-api/proto-json.js';

/** Milliseconds → protobuf JSON duration ("0.250s", "5s"). */
export function msToDuration(ms: number): string {
  return formatDuration(Math.trunc(ms / 1000), (ms % 1000) * 1_000_000);
}
