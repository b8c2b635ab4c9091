// The long edit sequence (`npm run edits:long`): EDITS (default 300) seeded config edits applied per mode
// against real Envoy over state of the world and delta, as test/edit-sequence.test.ts runs 30 of,
// with the result written to its section of bench/RESULTS.md.
import os from 'node:os';
import { envoyVersion, findEnvoy, EnvoyNotInstalledError } from '../src/sandbox/envoy-process.js';
import { runEditSequence, type EditRunResult } from '../test/helpers/edit-sequence.js';
import { percentile } from './util.js';
import { writeSection } from './results-file.js';

const EDITS = Number(process.env.EDITS ?? 300);
const SEED = Number(process.env.EDIT_SEED ?? 1);
const envoy = findEnvoy();
if (!envoy) throw new EnvoyNotInstalledError();

const started = new Date();
const results: EditRunResult[] = [];
for (const [mode, baseId] of [['sotw', 51], ['delta', 52]] as const) {
  const t0 = performance.now();
  const r = await runEditSequence({ mode, edits: EDITS, seed: SEED, envoyBin: envoy, baseId });
  results.push(r);
  process.stdout.write(`${mode}: ${r.convergeMs.length} edits in ${((performance.now() - t0) / 1000).toFixed(0)} s, 0 divergences, ${r.loadFailures.length} failed of ${r.loadRequests} canary requests\n`);
}

/** How many edits of each kind ("add route", "rename cluster", …) a run made. */
const kinds = (r: EditRunResult): string => {
  const count = new Map<string, number>();
  for (const e of r.edits) {
    const kind = e.split(' ').slice(0, 2).join(' ');
    count.set(kind, (count.get(kind) ?? 0) + 1);
  }
  return [...count].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
};

const lines = [
  '## Edit sequence against real Envoy',
  '',
  `Written by \`npm run edits:long\` (EDITS=${EDITS}, EDIT_SEED=${SEED}) on ${started.toISOString()}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, Envoy ${envoyVersion(envoy)}.`,
  'After every edit, real Envoy\'s /config_dump (names and versions of listeners, routes and clusters, endpoint addresses, RTDS values) must equal what `render --node` says within 10 s, status must never say SYNCED while it does not, each route must answer from its cluster\'s backend and 100% mirrors must get their copy; a request loop on the canary route runs throughout.',
  '',
  '| xDS | edits generated | edits applied | divergences | canary requests | failed | traffic checks | edit → Envoy matches p50 / p99 / max ms |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  ...results.map((r) => {
    const ms = [...r.convergeMs].sort((a, b) => a - b);
    return `| ${r.mode} | ${r.edits.length} | ${r.convergeMs.length} | 0 | ${r.loadRequests} | ${r.loadFailures.length} | ${r.trafficChecks} | ${percentile(ms, 50).toFixed(0)} / ${percentile(ms, 99).toFixed(0)} / ${(ms.at(-1) ?? 0).toFixed(0)} |`;
  }),
  '',
  `Edits generated (both modes run the same seeded sequence): ${kinds(results[0]!)}.`,
];
writeSection('edit-sequence', lines.join('\n'));
process.stdout.write(`${lines.join('\n')}\n`);
