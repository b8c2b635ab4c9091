// Hostnames → Envoy virtual hosts, shared by the importers. Envoy picks one virtual host per request
// (exact, then the longest `*.suffix`, then `*`) and never falls through to another; Gateway API and
// APISIX do: when the routes of the most specific matching hostname all miss, the routes of a less
// specific one (a covering wildcard, then routes without a hostname) are tried. That is kept by
// appending the covering hostnames' routes, in that order, to each virtual host.
import type { RouteConfig, VirtualHostConfig } from '../schema.js';
import { compareStrings } from './values.js';

/** `*.example.com` covers `a.example.com` and `a.b.example.com`, not `example.com`; `*` covers everything. */
export function covers(wildcard: string, host: string): boolean {
  if (wildcard === '*') return true;
  if (!wildcard.startsWith('*.') || wildcard === host) return false;
  const suffix = wildcard.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length;
}

/**
 * Envoy domains for a hostname. A Host header may carry a port (`h:8080`), which these systems
 * ignore when matching: an exact name also takes `h:*`. Envoy has no form for a wildcard with a
 * port, so `*.suffix` matches a Host without one only (README: imported hostnames).
 */
export function domainsFor(hostname: string): string[] {
  return hostname.includes('*') ? [hostname] : [hostname, `${hostname}:*`];
}

/** A virtual host name from a hostname: `*` → `any`, `*.example.com` → `wildcard.example.com`. */
export function virtualHostName(hostname: string): string {
  if (hostname === '*') return 'any';
  return hostname.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9._-]/g, '-');
}

export interface HostRoutes {
  readonly hostname: string;
  /** In the order they are tried. */
  readonly routes: readonly RouteConfig[];
}

/**
 * One virtual host per hostname. With `fallThrough`, each is followed by the routes of every
 * hostname that also covers it: longer wildcards first, `*` last. A route that is already in the
 * list (one route with several hostnames) is not repeated.
 */
export function assembleVirtualHosts(groups: readonly HostRoutes[], fallThrough: boolean): VirtualHostConfig[] {
  const specificity = (h: string): number => (h === '*' ? -1 : h.startsWith('*.') ? h.length - 2 : Number.MAX_SAFE_INTEGER);
  const sorted = [...groups].sort((a, b) => specificity(b.hostname) - specificity(a.hostname) || compareStrings(a.hostname, b.hostname));
  return sorted.map((g) => {
    const routes = [...g.routes];
    if (fallThrough) {
      const seen = new Set(routes);
      for (const other of sorted) {
        if (other === g || !covers(other.hostname, g.hostname)) continue;
        for (const r of other.routes) if (!seen.has(r)) {
          seen.add(r);
          routes.push(r);
        }
      }
    }
    return { name: virtualHostName(g.hostname), domains: domainsFor(g.hostname), routes };
  });
}
