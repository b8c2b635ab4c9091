// One compile measurement in a fresh process (so peak RSS is this size's alone): validate + build the
// model + translate + encode every resource, as `serve` does for a new config version; and an edit
// that moves one endpoint, built from scratch and built incrementally (what `serve` does: parts
// unchanged since the last version are reused), each up to every resource encoded.
import { IncrementalParser, parseClean } from '../src/config/fast-parse.js';
import { parseConfig } from '../src/config/load.js';
import { encodeTyped } from '../src/envoy-api/proto-json.js';
import { envoyProtoRoot } from '../src/envoy-api/proto-root.js';
import { buildModel, ModelBuilder } from '../src/model/build.js';
import { translate } from '../src/translate/resources.js';
import { SnapshotCache } from '../src/xds/snapshot-cache.js';
import { generateConfig } from './gen-config.js';

const routes = Number(process.argv[2]);
const runs = Number(process.argv[3] ?? 5);
const text = generateConfig({ routes });
envoyProtoRoot(); // loading Envoy's definitions is start-up cost, not compile cost

const phases = { validate: [] as number[], model: [] as number[], translate: [] as number[], encode: [] as number[] };
let bytes = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const loaded = parseConfig(text, 'bench.yaml');
  if (!loaded.ok) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
  const t1 = performance.now();
  const model = buildModel(loaded.config);
  const t2 = performance.now();
  const r = translate(model);
  const t3 = performance.now();
  bytes = 0;
  for (const x of [...r.listeners, ...r.routes, ...r.clusters, ...r.endpoints]) bytes += encodeTyped(x).length;
  const t4 = performance.now();
  phases.validate.push(t1 - t0);
  phases.model.push(t2 - t1);
  phases.translate.push(t3 - t2);
  phases.encode.push(t4 - t3);
}

/** Edit k's text (k moves cluster c0's endpoint), then the time to serve it: parse, check, model, snapshot, encoding. */
function editTimes(build: (text: string) => void): number[] {
  build(generateConfig({ routes, edit: 0 }));
  const times: number[] = [];
  for (let k = 1; k <= runs + 2; k++) {
    const next = generateConfig({ routes, edit: k });
    const t0 = performance.now();
    build(next);
    times.push(performance.now() - t0);
  }
  return times.slice(2);
}
const full = editTimes((t) => new SnapshotCache().publish(buildModel(parseClean(t)!)));
const parser = new IncrementalParser();
const models = new ModelBuilder();
const cache = new SnapshotCache();
const incremental = editTimes((t) => cache.publish(models.build(parser.parse(t)!)));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = {
  routes,
  runs,
  yamlBytes: text.length,
  resourceBytes: bytes,
  validateMs: median(phases.validate),
  modelMs: median(phases.model),
  translateMs: median(phases.translate),
  encodeMs: median(phases.encode),
  editFullMs: median(full),
  editIncrementalMs: median(incremental),
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
