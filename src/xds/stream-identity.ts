// Binds an ADS stream to one node. The first request names the node (Envoy sends it only there) and
// that node is the stream's for good: a later request cannot change what the stream is served. With
// mutual TLS the claimed node must also be one the client certificate may speak for
// (tls/node-identity.ts); otherwise the stream is refused before anything is sent on it.
import type { NodeInfo } from '../envoy-api/discovery-codec.js';
import { formatIdentities, type IdentityReader } from '../tls/certificate-identities.js';
import type { NodeIdentityRule } from '../tls/node-identity.js';

/** With mutual TLS: the rule, and how to read a certificate's names. */
export interface NodeIdentityCheck {
  readonly rule: NodeIdentityRule;
  readonly readIdentities: IdentityReader;
}

export type RefusalReason = 'no_certificate' | 'no_node' | 'identity_mismatch' | 'node_changed';

export interface Refusal {
  readonly reason: RefusalReason;
  readonly message: string;
  /** The client certificate's names, for the log. */
  readonly identities: readonly string[];
}

/** Checks the node a stream's first request claims; undefined accepts it. */
export function checkFirstNode(check: NodeIdentityCheck, node: NodeInfo | undefined, peerCertificate: Buffer | undefined): Refusal | undefined {
  if (!peerCertificate) return { reason: 'no_certificate', message: 'no client certificate', identities: [] };
  const ids = check.readIdentities(peerCertificate);
  const identities = formatIdentities(ids);
  if (!node) return { reason: 'no_node', message: 'the first request carries no node', identities };
  if (!check.rule.allows({ id: node.id, cluster: node.cluster }, ids)) {
    return { reason: 'identity_mismatch', message: `node "${node.id}" is not an identity of the client certificate (${identities.join(', ') || 'no DNS or URI names'})`, identities };
  }
  return undefined;
}

/** A later request that names another node than the stream's: true when it differs. */
export function nodeChanged(bound: NodeInfo | undefined, node: NodeInfo | undefined): boolean {
  return node !== undefined && (bound === undefined || node.id !== bound.id || node.cluster !== bound.cluster);
}

/** With mutual TLS: the nodes a certificate may claim, which are the only ones CSDS tells it about. */
export function claimableBy(check: NodeIdentityCheck, peerCertificate: Buffer | undefined): (node: NodeInfo | undefined) => boolean {
  if (!peerCertificate) return () => false;
  const ids = check.readIdentities(peerCertificate);
  return (node) => node !== undefined && check.rule.allows({ id: node.id, cluster: node.cluster }, ids);
}
