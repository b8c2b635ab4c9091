// Every edit reaches every proxy, provably: a seeded sequence of config edits against real Envoy over
// state of the world and over delta (test/helpers/edit-sequence.ts). EDIT_SEED chooses the sequence;
// `npm run edits:long` runs 300 edits per mode and records the result in bench/RESULTS.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requireEnvoy } from './helpers/envoy.js';
import { runEditSequence } from './helpers/edit-sequence.js';

const SEED = Number(process.env.EDIT_SEED ?? 9);
const EDITS = Number(process.env.EDITS ?? 30);

describe(`edit sequences against real Envoy (${EDITS} edits per mode, seed ${SEED})`, () => {
  for (const [mode, baseId] of [['sotw', 41], ['delta', 42]] as const) {
    it(`${mode}: Envoy matches render --node after every edit, traffic agrees, and the canary loop never fails`, async (t) => {
      const envoyBin = requireEnvoy(t);
      if (!envoyBin) return;
      const r = await runEditSequence({ mode, edits: EDITS, seed: SEED, envoyBin, baseId });
      assert.deepEqual(r.loadFailures, []);
      assert.equal(r.convergeMs.length, EDITS, `${EDITS} edits that change the config are applied (${r.edits.length} generated)`);
      assert.ok(r.loadRequests > 0 && r.trafficChecks >= EDITS, `${r.loadRequests} canary requests, ${r.trafficChecks} traffic checks`);
      t.diagnostic(`${mode}: ${r.convergeMs.length} edits applied, converge p50 ${[...r.convergeMs].sort((a, b) => a - b)[Math.floor(r.convergeMs.length / 2)]} ms, ${r.loadRequests} canary requests, ${r.trafficChecks} traffic checks`);
    });
  }
});
