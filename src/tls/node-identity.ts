// Which node ids a client certificate may claim. The default follows Istio and SPIFFE: the node id is
// one of the certificate's DNS names, or the last path segment of one of its URIs
// (`spiffe://TRUST-DOMAIN/node/ID`). A template (`--xds-node-identity`) replaces it:
// `spiffe://example.org/ns/*/sa/{id}` accepts node `ID` from a certificate with that URI for any
// namespace. `{id}` is the node id, `{cluster}` the node cluster (binding it too), `*` one or more
// characters other than `/`; a template is matched whole against every DNS and URI name.
import type { CertificateIdentities } from './certificate-identities.js';

export interface NodeClaim {
  readonly id: string;
  readonly cluster: string;
}

export interface NodeIdentityRule {
  /** The rule in words, for logs. */
  readonly description: string;
  allows(claim: NodeClaim, identities: CertificateIdentities): boolean;
}

function lastPathSegment(uri: string): string | undefined {
  try {
    return new URL(uri).pathname.split('/').at(-1);
  } catch {
    return undefined;
  }
}

export const DEFAULT_NODE_IDENTITY_RULE: NodeIdentityRule = {
  description: 'the node id is a DNS name of the certificate, or the last path segment of one of its URIs',
  allows: (claim, ids) => claim.id !== '' && (ids.dns.includes(claim.id) || ids.uris.some((u) => lastPathSegment(u) === claim.id)),
};

export class IdentityTemplateError extends Error {
  override name = 'IdentityTemplateError';
}

type Part = { readonly literal: string } | { readonly placeholder: 'id' | 'cluster' | '*' };

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parses a template; throws IdentityTemplateError when it has no `{id}` or an unknown placeholder. */
export function nodeIdentityTemplate(template: string): NodeIdentityRule {
  const parts: Part[] = [];
  for (const token of template.split(/(\{[^}]*\}|\*)/).filter((t) => t !== '')) {
    if (token === '*') parts.push({ placeholder: '*' });
    else if (token === '{id}' || token === '{cluster}') parts.push({ placeholder: token === '{id}' ? 'id' : 'cluster' });
    else if (/[{}]/.test(token)) throw new IdentityTemplateError(`unknown placeholder "${token}" in node identity template "${template}" (known: {id}, {cluster}, *)`);
    else parts.push({ literal: token });
  }
  // Without {id} every certificate the template matches could claim any node.
  if (!parts.some((p) => 'placeholder' in p && p.placeholder === 'id')) throw new IdentityTemplateError(`node identity template "${template}" must contain {id}`);
  return {
    description: `a DNS name or URI of the certificate is ${template}`,
    allows(claim, ids) {
      if (claim.id === '') return false;
      const source = parts
        .map((p) => ('literal' in p ? escapeRegExp(p.literal) : p.placeholder === '*' ? '[^/]+' : escapeRegExp(p.placeholder === 'id' ? claim.id : claim.cluster)))
        .join('');
      const re = new RegExp(`^${source}$`, 'u');
      return [...ids.dns, ...ids.uris].some((name) => re.test(name));
    },
  };
}
