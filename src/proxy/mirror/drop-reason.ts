// The reasons a mirror copy is dropped: the `reason` label of shadowplane_mirror_dropped_total.

/** Why a copy was not sent, or stopped before it finished sending. */
export type MirrorDropReason =
  /** cluster_header is absent or empty on the request. */
  | 'no_cluster_header'
  /** The mirror cluster does not exist. */
  | 'unknown_cluster'
  | 'no_healthy_upstream'
  /** The mirror cluster's in-flight cap (circuit breakers) is full. */
  | 'overflow'
  /** The copy's body buffer is full: the mirror reads slower than the client sends. */
  | 'copy_buffer_full'
  /** All copies together hold the global mirror body budget. */
  | 'global_buffer_full'
  /** The request ended (client gone, or the primary exchange over) before its body was complete. */
  | 'request_incomplete'
  /** The mirror refused or timed out a connect a moment ago (see connect-backoff.ts). */
  | 'mirror_unreachable';
