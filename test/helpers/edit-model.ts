// A model of a shadowplane config and a seeded generator of the edits operators make to one:
// add, remove and rename clusters, routes, virtual hosts and listeners; point a route at another
// cluster (leaving the old one unused); add, remove and retarget mirrors; change percentages; move a
// cluster to another endpoint; switch node selectors on and off. Every edit leaves a valid config.
// The `canary` listener and its first route never go away, so a request loop can run on them throughout.

export interface MirrorModel {
  cluster: string;
  percent: number;
}

export interface RouteModel {
  name: string;
  cluster: string;
  mirrors: MirrorModel[];
}

export interface VhostModel {
  name: string;
  /** One domain per virtual host (`*` for the canary's): requests pick the host by it. */
  domain: string;
  routes: RouteModel[];
}

export interface ListenerModel {
  name: string;
  port: number;
  /** Selected only for this node id (a node selector), or for every node. */
  onlyNode: string | undefined;
  vhosts: VhostModel[];
}

export interface ClusterModel {
  name: string;
  /** The loopback backend (by name) its one endpoint is. */
  backend: string;
}

export interface WorldModel {
  listeners: ListenerModel[];
  clusters: ClusterModel[];
}

export const CANARY_LISTENER = 'canary';
export const CANARY_ROUTE = 'canary';
const PERCENTS = [0, 100, 37] as const;

export interface EditContext {
  readonly backends: readonly string[];
  /** Free loopback ports for listeners an edit adds. */
  readonly port: () => Promise<number>;
  /** The node ids a selector may name (one for this run's Envoy, one for nobody here). */
  readonly nodeIds: readonly string[];
}

/** Clusters that no route or mirror names any more are dropped, as an operator tidying up would. */
function prune(w: WorldModel): void {
  const used = new Set(w.listeners.flatMap((l) => l.vhosts.flatMap((v) => v.routes.flatMap((r) => [r.cluster, ...r.mirrors.map((m) => m.cluster)]))));
  w.clusters = w.clusters.filter((c) => used.has(c.name));
}

/** The route's prefix; ending in `/` so no route's prefix is another's (r1 and r12). */
export function routePath(route: RouteModel): string {
  return `/r/${route.name}/`;
}

export function renderConfig(w: WorldModel, ports: Readonly<Record<string, number>>): string {
  const lines: string[] = ['listeners:'];
  for (const l of w.listeners) {
    lines.push(`  - name: ${l.name}`, `    address: 127.0.0.1:${l.port}`);
    if (l.onlyNode) lines.push(`    nodes: [{ id: ${l.onlyNode} }]`);
    lines.push('    virtual_hosts:');
    for (const v of l.vhosts) {
      lines.push(`      - name: ${v.name}`, `        domains: ["${v.domain}"]`, '        routes:');
      for (const r of v.routes) {
        const mirrors = r.mirrors.map((m) => `{ cluster: ${m.cluster}, percent: ${m.percent} }`).join(', ');
        lines.push(`          - { name: ${r.name}, match: { prefix: ${routePath(r)} }, cluster: ${r.cluster}${mirrors ? `, mirrors: [${mirrors}]` : ''} }`);
      }
    }
  }
  lines.push('clusters:');
  for (const c of w.clusters) lines.push(`  - { name: ${c.name}, endpoints: ["127.0.0.1:${ports[c.backend]}"], connect_timeout: 1s }`);
  return `${lines.join('\n')}\n`;
}

export function initialWorld(backends: readonly string[], canaryPort: number): WorldModel {
  return {
    listeners: [
      {
        name: CANARY_LISTENER,
        port: canaryPort,
        onlyNode: undefined,
        vhosts: [{ name: 'all', domain: '*', routes: [{ name: CANARY_ROUTE, cluster: 'c0', mirrors: [{ cluster: 'm0', percent: 100 }] }] }],
      },
    ],
    clusters: [
      { name: 'c0', backend: backends[0]! },
      { name: 'm0', backend: backends[1]! },
    ],
  };
}

/** One edit: what it does, in words, and the change. */
export interface Edit {
  readonly what: string;
  readonly apply: (w: WorldModel) => void;
}

/** Picks and applies one edit the world allows; returns its description. */
export async function nextEdit(w: WorldModel, r: () => number, ctx: EditContext, n: number): Promise<string> {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const routes = w.listeners.flatMap((l) => l.vhosts.flatMap((v) => v.routes.map((route) => ({ l, v, route }))));
  const fresh = (prefix: string): string => `${prefix}${n}`;
  const newCluster = (): string => {
    const name = fresh('c');
    w.clusters.push({ name, backend: pick(ctx.backends) });
    return name;
  };
  const anyCluster = (): string => (r() < 0.4 || w.clusters.length === 0 ? newCluster() : pick(w.clusters).name);
  const removable = routes.filter(({ v, route }) => route.name !== CANARY_ROUTE && v.routes.length > 1);
  const extraListeners = w.listeners.filter((l) => l.name !== CANARY_LISTENER);

  const edits: Array<{ when: boolean; run: () => Promise<string> | string }> = [
    {
      when: true,
      run: () => {
        const { l, v } = pick(routes);
        const route: RouteModel = { name: fresh('r'), cluster: anyCluster(), mirrors: [] };
        v.routes.unshift(route);
        return `add route ${route.name} → ${route.cluster} to ${l.name}/${v.name}`;
      },
    },
    {
      when: removable.length > 0,
      run: () => {
        const { l, v, route } = pick(removable);
        v.routes.splice(v.routes.indexOf(route), 1);
        return `remove route ${route.name} from ${l.name}/${v.name}`;
      },
    },
    {
      when: true,
      run: () => {
        const { route } = pick(routes);
        const before = route.cluster;
        const others = w.clusters.filter((c) => c.name !== before);
        route.cluster = r() < 0.5 || others.length === 0 ? newCluster() : pick(others).name;
        return `point route ${route.name} at ${route.cluster} (was ${before})`;
      },
    },
    {
      when: w.clusters.length > 0,
      run: () => {
        const c = pick(w.clusters);
        const before = c.name;
        c.name = `${before.replace(/-v\d+$/, '')}-v${n}`;
        for (const { route } of routes) {
          if (route.cluster === before) route.cluster = c.name;
          for (const m of route.mirrors) if (m.cluster === before) m.cluster = c.name;
        }
        return `rename cluster ${before} → ${c.name}`;
      },
    },
    {
      when: w.clusters.length > 0,
      run: () => {
        const c = pick(w.clusters);
        const before = c.backend;
        c.backend = pick(ctx.backends.filter((b) => b !== before));
        return `move cluster ${c.name}'s endpoint from ${before} to ${c.backend}`;
      },
    },
    {
      when: true,
      run: () => {
        const { route } = pick(routes);
        const taken = new Set(route.mirrors.map((m) => m.cluster));
        const cluster = anyCluster();
        if (taken.has(cluster)) return `mirror of ${route.name} to ${cluster} already there (no change)`;
        route.mirrors.push({ cluster, percent: pick(PERCENTS) });
        return `add mirror to ${cluster} on route ${route.name}`;
      },
    },
    {
      when: routes.some(({ route }) => route.mirrors.length > 0),
      run: () => {
        const { route } = pick(routes.filter(({ route }) => route.mirrors.length > 0));
        const m = pick(route.mirrors);
        if (r() < 0.5) {
          route.mirrors.splice(route.mirrors.indexOf(m), 1);
          return `remove mirror ${m.cluster} from route ${route.name}`;
        }
        const before = m.cluster;
        const cluster = anyCluster();
        if (route.mirrors.some((x) => x.cluster === cluster)) return `mirror of ${route.name} to ${cluster} already there (no change)`;
        m.cluster = cluster;
        return `retarget mirror of route ${route.name} from ${before} to ${cluster}`;
      },
    },
    {
      when: routes.some(({ route }) => route.mirrors.length > 0),
      run: () => {
        const { route } = pick(routes.filter(({ route }) => route.mirrors.length > 0));
        const m = pick(route.mirrors);
        const before = m.percent;
        m.percent = pick(PERCENTS.filter((p) => p !== before));
        return `change mirror ${m.cluster} on route ${route.name} from ${before}% to ${m.percent}%`;
      },
    },
    {
      when: true,
      run: () => {
        const l = pick(w.listeners);
        const v: VhostModel = { name: fresh('vh'), domain: `${fresh('vh')}.test`, routes: [{ name: fresh('r'), cluster: anyCluster(), mirrors: [] }] };
        l.vhosts.push(v);
        return `add virtual host ${v.name} to ${l.name}`;
      },
    },
    {
      when: w.listeners.some((l) => l.vhosts.some((v) => v.domain !== '*')),
      run: () => {
        const l = pick(w.listeners.filter((x) => x.vhosts.some((v) => v.domain !== '*')));
        const v = pick(l.vhosts.filter((x) => x.domain !== '*'));
        if (r() < 0.5 && l.vhosts.length > 1) {
          l.vhosts.splice(l.vhosts.indexOf(v), 1);
          return `remove virtual host ${v.name} from ${l.name}`;
        }
        const before = v.name;
        v.name = fresh('vh');
        return `rename virtual host ${before} → ${v.name} in ${l.name}`;
      },
    },
    {
      when: extraListeners.length < 3,
      run: async () => {
        const l: ListenerModel = { name: fresh('l'), port: await ctx.port(), onlyNode: undefined, vhosts: [{ name: 'all', domain: '*', routes: [{ name: fresh('r'), cluster: anyCluster(), mirrors: [] }] }] };
        w.listeners.push(l);
        return `add listener ${l.name} on port ${l.port}`;
      },
    },
    {
      when: extraListeners.length > 0,
      run: () => {
        // The same address under a new name: Envoy drains the old listener while the new one takes over.
        const l = pick(extraListeners);
        const before = l.name;
        l.name = fresh('l');
        return `rename listener ${before} → ${l.name}`;
      },
    },
    {
      when: extraListeners.length > 0,
      run: () => {
        const l = pick(extraListeners);
        if (r() < 0.4) {
          w.listeners.splice(w.listeners.indexOf(l), 1);
          return `remove listener ${l.name}`;
        }
        const before = l.onlyNode;
        l.onlyNode = pick([undefined, ...ctx.nodeIds].filter((x) => x !== before));
        return `node selector of listener ${l.name}: ${before ?? 'every node'} → ${l.onlyNode ?? 'every node'}`;
      },
    },
    {
      when: routes.some(({ route }) => route.name !== CANARY_ROUTE),
      run: () => {
        const { route } = pick(routes.filter(({ route }) => route.name !== CANARY_ROUTE));
        const before = route.name;
        route.name = fresh('r');
        return `rename route ${before} → ${route.name}`;
      },
    },
  ];
  const what = await pick(edits.filter((e) => e.when)).run();
  prune(w);
  return what;
}
