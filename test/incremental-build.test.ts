// The incremental build (entries parsed and checked only when their text is new, model and Envoy
// resources kept for unchanged parts, encodings reused) against the full build, which stays the
// reference: over a seeded sequence of edits, each text in several layouts, both must accept the
// same texts and serve byte-identical resources with identical versions to every kind of node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseClean, IncrementalParser } from '../src/config/fast-parse.js';
import type { NodeInfo } from '../src/envoy-api/discovery-codec.js';
import { buildModel, ModelBuilder } from '../src/model/build.js';
import type { Model } from '../src/model/types.js';
import { splitYamlItems } from '../src/config/yaml-items.js';
import { translate } from '../src/translate/resources.js';
import { ResourceEncoder } from '../src/xds/encoded-resource.js';
import { detachRouteConfiguration, mergeLayers, runtimeResource } from '../src/xds/runtime-layer.js';
import { SnapshotCache } from '../src/xds/snapshot-cache.js';
import { buildSnapshot, type Snapshot } from '../src/xds/snapshot.js';
import { gateRoutes, needsGating } from '../src/xds/version-gate.js';
import { initialWorld, nextEdit, renderConfig, type EditContext } from './helpers/edit-model.js';
import { seededRandom as random } from './helpers/seeded-random.js';
import { exampleConfigs } from './helpers/repo.js';

const EDITS = Number(process.env.INCREMENTAL_EDITS ?? 300);
const SEED = Number(process.env.INCREMENTAL_SEED ?? 7);

const NODES: ReadonlyArray<NodeInfo | undefined> = [
  undefined,
  { id: 'front', cluster: 'edge', envoyVersion: '1.40.0', userAgent: 'envoy' },
  { id: 'other', cluster: 'edge', envoyVersion: '1.40.0', userAgent: 'envoy' },
  // Gated: an Envoy older than the mirror header mutations.
  { id: 'old', cluster: 'edge', envoyVersion: '1.35.0', userAgent: 'envoy' },
];

/** Everything a proxy is sent: per type its version, and each resource's name, version and bytes. */
function served(s: Snapshot): unknown {
  return [...s.types].map(([type, ts]) => [type, ts.version, [...ts.resources.values()].map((r) => [r.name, r.version, Buffer.from(r.any).toString('base64')])]);
}

/** What a node is served, built from nothing: the full path, with no cache, memo or group sharing. */
function reference(model: Model, node: NodeInfo | undefined): Snapshot {
  const r = translate(model, node);
  const detached = r.routes.map(detachRouteConfiguration);
  const routes = detached.map((d) => d.route);
  const gated = node?.envoyVersion && needsGating(node.envoyVersion) ? gateRoutes(routes, node.envoyVersion).routes : routes;
  const runtime = [runtimeResource(mergeLayers(detached.map((d) => d.layer)))];
  return buildSnapshot(0, { ...r, routes: gated, runtime }, new ResourceEncoder());
}

/** The same config written differently: the cut into entries must not change what it means. */
const LAYOUTS: ReadonlyArray<(text: string) => string> = [
  (t) => t,
  (t) => t.replace(/^ {2}- /gm, '  # an entry follows\n  - '),
  // Sequence entries at the key's own column.
  (t) => t.replace(/^ {2}/gm, ''),
  // clusters before listeners
  (t) => {
    const at = t.indexOf('\nclusters:');
    return `${t.slice(at + 1)}${t.slice(0, at + 1)}`;
  },
  (t) => `# comment on top\n\n${t.replace(/\n/g, '\n\n')}`,
  (t) => t.replace(/ \}$/gm, ' }   # trailing comment'),
  // A field only newer Envoys take: the model records where it is used, the old node gets it gated.
  (t) => t.replace(/percent: (\d+) \}/g, 'percent: $1, host_rewrite: shadow.test }'),
];

/** Changes about where entries are cut: some keep the text valid, some do not; both paths must agree either way. */
const MUTATIONS: ReadonlyArray<(lines: string[], r: () => number) => void> = [
  (l, r) => void l.splice(Math.floor(r() * l.length), 0, '---'),
  (l, r) => void l.splice(Math.floor(r() * l.length), 0, '    x: |', '      block'),
  (l, r) => void l.splice(Math.floor(r() * l.length), 0, '  - "an open', '  quote"'),
  (l, r) => {
    const i = Math.floor(r() * l.length);
    l[i] = l[i]!.replace(/name: (\w+)/, 'name: &n $1');
    const j = Math.floor(r() * l.length);
    l[j] = l[j]!.replace(/cluster: \w+/, 'cluster: *n');
  },
  (l, r) => {
    const i = Math.floor(r() * l.length);
    l[i] = l[i]!.replace(/^ {2}/, '');
  },
  (l, r) => {
    const i = Math.floor(r() * l.length);
    l[i] = ` ${l[i]}`;
  },
  (l, r) => void l.splice(Math.floor(r() * l.length), 0, l[Math.floor(r() * l.length)]!),
  (l, r) => void l.splice(Math.floor(r() * l.length), 1),
  (l, r) => {
    const i = Math.floor(r() * l.length);
    l[i] = `${l[i]} "`;
  },
  (l, r) => {
    const i = Math.floor(r() * l.length);
    l[i] = l[i]!.replace(/\{ /, '{\n      ');
  },
  (l) => void l.push('extra: 1'),
  (l) => void l.unshift('clusters: []'),
];

describe('incremental build', () => {
  it(`serves what the full build serves, byte for byte, over ${EDITS} seeded edits (seed ${SEED})`, async () => {
    const r = random(SEED);
    const backends = ['b0', 'b1', 'b2', 'b3'];
    const ports: Record<string, number> = { b0: 21000, b1: 21001, b2: 21002, b3: 21003 };
    let nextPort = 22000;
    const ctx: EditContext = { backends, port: async () => nextPort++, nodeIds: ['front', 'nobody'] };
    const world = initialWorld(backends, 21999);
    const parser = new IncrementalParser();
    const models = new ModelBuilder();
    const cache = new SnapshotCache();
    const log: string[] = [];
    let accepted = 0;
    for (let n = 0; n < EDITS; n++) {
      log.push(await nextEdit(world, r, ctx, n));
      const text = LAYOUTS[Math.floor(r() * LAYOUTS.length)]!(renderConfig(world, ports));
      const full = parseClean(text);
      const inc = parser.parse(text);
      const where = `seed ${SEED}, edit ${n} (${log.at(-1)})`;
      assert.deepEqual(inc, full, `the two parses differ at ${where}`);
      // Every layout is one the incremental path cuts, into one part per listener and cluster.
      const parts = splitYamlItems(text)?.map((p) => (p.kind === 'sequence' ? p.entries.length : -1));
      assert.deepEqual(parts?.sort(), [world.clusters.length, world.listeners.length].sort(), `the text was not cut into its entries at ${where}`);
      if (!full || !inc) continue;
      accepted++;
      const model = models.build(inc);
      assert.deepEqual(model, buildModel(full), `the models differ at ${where}`);
      cache.publish(model);
      const fresh = buildModel(full);
      for (const node of NODES) {
        assert.deepEqual(served(cache.snapshotFor(node)!), served(reference(fresh, node)), `resources differ for node ${node?.id ?? '(none)'} at ${where}`);
      }
    }
    assert.ok(accepted > EDITS * 0.9, `only ${accepted} of ${EDITS} texts were accepted: the sequence tests too little`);
  });

  const listener = (name: string, extra = ''): string =>
    `  - name: ${name}\n    address: 127.0.0.1:${name.length + 1000}\n    virtual_hosts:\n      - name: v\n        domains: ["${name}.test"]\n        routes:\n          - { name: r, match: { prefix: / }, cluster: c0${extra} }\n`;
  const CASES: ReadonlyArray<readonly [string, string, 'accepted' | 'refused']> = [
    ['an alias of another entry\'s anchor', `listeners:\n${listener('a').replace('cluster: c0', 'cluster: &c c0')}clusters:\n  - { name: *c, endpoints: ["127.0.0.1:2"] }\n`, 'accepted'],
    ['a shared node within an entry', `listeners:\n${listener('a', ', mirrors: &m [{ cluster: c0 }]')}          - { name: q, match: { prefix: /q }, cluster: c0, mirrors: *m }\nclusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'refused'],
    ['a top-level key twice', `listeners:\n${listener('a')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\nclusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'refused'],
    ['one runtime key in two listeners', `listeners:\n${listener('a', ', mirrors: [{ cluster: c0, runtime_key: k }]')}${listener('bb', ', mirrors: [{ cluster: c0, runtime_key: k }]')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'refused'],
    ['two listeners on one port', `listeners:\n${listener('a')}${listener('b')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'refused'],
    ['a cluster no route uses', `listeners:\n${listener('a')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n  - { name: c9, endpoints: ["127.0.0.1:3"] }\n`, 'refused'],
    ['a quoted route name over two lines', `listeners:\n${listener('a').replace('{ name: r,', '{ name: "r\n  - r",')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'accepted'],
    ['a plain listing', `listeners:\n${listener('a')}${listener('bb')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n`, 'accepted'],
  ];
  for (const [name, text, outcome] of CASES) {
    it(`${name}: answered as the whole text is (${outcome})`, () => {
      const full = parseClean(text);
      assert.equal(full === undefined ? 'refused' : 'accepted', outcome, 'the case is not what it says');
      const parser = new IncrementalParser();
      // Twice: the second time every part comes from what the first kept.
      assert.deepEqual(parser.parse(text), full);
      assert.deepEqual(parser.parse(text), full);
    });
  }

  it('a listener kept from the last text is checked again against new cluster names', () => {
    const parser = new IncrementalParser();
    const both = `listeners:\n${listener('a')}${listener('bb').replace('cluster: c0', 'cluster: c1')}clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n  - { name: c1, endpoints: ["127.0.0.1:3"] }\n`;
    const dropped = both.replace('  - { name: c0, endpoints: ["127.0.0.1:2"] }\n', '');
    assert.ok(parser.parse(both));
    assert.equal(parseClean(dropped), undefined);
    assert.equal(parser.parse(dropped), undefined, 'listener a names c0, which is gone');
  });

  it('a listener kept from the last model that moved in the list says where it now is', () => {
    const parser = new IncrementalParser();
    const models = new ModelBuilder();
    const featured = listener('bb', ', mirrors: [{ cluster: c0, host_rewrite: shadow.test }]');
    const clusters = 'clusters:\n  - { name: c0, endpoints: ["127.0.0.1:2"] }\n';
    models.build(parser.parse(`listeners:\n${listener('a')}${featured}${clusters}`)!);
    const moved = parser.parse(`listeners:\n${featured}${clusters}`)!;
    assert.deepEqual(models.build(moved), buildModel(moved));
    assert.deepEqual(models.build(moved).features.map((f) => f.where), ['listeners[0].virtual_hosts[0].routes[0].mirrors[0]']);
  });

  it('accepts exactly the texts the full fast path accepts, with the same result, over mutated configs', () => {
    const r = random(SEED + 1);
    const ports: Record<string, number> = { b0: 1, b1: 2 };
    const sources = [...exampleConfigs().map((f) => readFileSync(f, 'utf8')), renderConfig(initialWorld(['b0', 'b1'], 3), ports)];
    const parser = new IncrementalParser();
    let accepted = 0;
    let cut = 0;
    for (let i = 0; i < 3000; i++) {
      const lines = sources[Math.floor(r() * sources.length)]!.split('\n');
      const times = 1 + Math.floor(r() * 2);
      for (let k = 0; k < times; k++) MUTATIONS[Math.floor(r() * MUTATIONS.length)]!(lines, r);
      const text = lines.join('\n');
      const full = parseClean(text);
      assert.deepEqual(parser.parse(text), full, `case ${i} (seed ${SEED + 1}):\n${text}`);
      if (full) accepted++;
      if (!text.includes('---')) cut++;
    }
    // Both outcomes must be exercised, or the comparison proves little.
    assert.ok(accepted > 300 && accepted < 2700, `${accepted} of 3000 mutated texts accepted`);
    assert.ok(cut > 0);
  });
});
