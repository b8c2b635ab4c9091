// Picks a virtual host by the request's Host (:authority), the way Envoy's RouteMatcher does:
// exact domain, then the longest `*.suffix`, then the longest `prefix.*`, then `*`. The Host is
// lower-cased and kept whole: a port is part of it unless a domain lists it (Envoy's default, with
// ignore_port_in_host_matching and the strip_*_host_port options off). A wildcard matches at least
// one character. Verified against Envoy 1.40 (test/conformance.test.ts).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#envoy-v3-api-field-config-route-v3-virtualhost-domains

type Wildcards<T> = Array<{ readonly length: number; readonly byText: Map<string, T> }>;

export class VirtualHostIndex<T> {
  private readonly exact = new Map<string, T>();
  private readonly suffixes: Wildcards<T> = [];
  private readonly prefixes: Wildcards<T> = [];
  private fallback: T | undefined;

  /** `domains` must already be unique and lower-case (the parser checks both). */
  add(domains: readonly string[], value: T): void {
    for (const d of domains) {
      if (d === '*') this.fallback = value;
      else if (d.startsWith('*')) addWildcard(this.suffixes, d.slice(1), value);
      else if (d.endsWith('*')) addWildcard(this.prefixes, d.slice(0, -1), value);
      else this.exact.set(d, value);
    }
  }

  /** Every value added, once each. */
  values(): T[] {
    const wildcards = [...this.suffixes, ...this.prefixes].flatMap((g) => [...g.byText.values()]);
    return [...new Set([...this.exact.values(), ...wildcards, ...(this.fallback === undefined ? [] : [this.fallback])])];
  }

  find(host: string): T | undefined {
    const h = host.toLowerCase();
    const exact = this.exact.get(h);
    if (exact !== undefined) return exact;
    for (const { length, byText } of this.suffixes) {
      if (length >= h.length) continue;
      const hit = byText.get(h.slice(h.length - length));
      if (hit !== undefined) return hit;
    }
    for (const { length, byText } of this.prefixes) {
      if (length >= h.length) continue;
      const hit = byText.get(h.slice(0, length));
      if (hit !== undefined) return hit;
    }
    return this.fallback;
  }
}

/** Keeps the groups sorted longest first, so the first hit is the most specific. */
function addWildcard<T>(groups: Wildcards<T>, text: string, value: T): void {
  let group = groups.find((g) => g.length === text.length);
  if (!group) {
    group = { length: text.length, byText: new Map() };
    groups.push(group);
    groups.sort((a, b) => b.length - a.length);
  }
  group.byText.set(text, value);
}
