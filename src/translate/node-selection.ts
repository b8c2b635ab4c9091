// Which listeners an Envoy node gets, by node id and node cluster globs.
import type { Listener, NodeSelector } from '../model/types.js';

export interface NodeIdentity {
  readonly id: string;
  readonly cluster?: string;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function selects(s: NodeSelector, node: NodeIdentity): boolean {
  if (s.id !== undefined && !globToRegExp(s.id).test(node.id)) return false;
  if (s.cluster !== undefined && !globToRegExp(s.cluster).test(node.cluster ?? '')) return false;
  return true;
}

/** A listener without selectors goes to every node. */
export function listenerSelectsNode(l: Listener, node: NodeIdentity): boolean {
  return l.nodes.length === 0 || l.nodes.some((s) => selects(s, node));
}
