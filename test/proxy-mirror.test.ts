// The built-in data plane's own side of mirroring: what it counts for each policy and why a copy was
// not sent, that a header can never put its value into a metric label, the optional marker header,
// runtime values given with a config, and a mirror cut off by its cluster's max_stream_duration.
// (What copies look like compared with Envoy's is in test/conformance.test.ts.)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { closeAll, runBounded, startBackend, startFrontPlane, type Backend, type FrontPlane } from './helpers/proxy-harness.js';
import { sleep } from '../src/sandbox/wait.js';

describe('mirror accounting', () => {
  let primary: Backend;
  let mirror: Backend;
  let slowMirror: Backend;
  let plane: FrontPlane;

  before(async () => {
    primary = await startBackend('primary');
    mirror = await startBackend('mirror');
    slowMirror = await startBackend('slow-mirror', { kind: 'delay', ms: 1000 });
    plane = await startFrontPlane(
      {
        host: 'mirror.example',
        routes: [
          '{ name: always, match: { prefix: /always }, cluster: primary, mirrors: [{ cluster: mirror }] }',
          '{ name: off, match: { prefix: /off }, cluster: primary, mirrors: [{ cluster: mirror, runtime_key: test.off }] }',
          '{ name: by-header, match: { prefix: /by-header }, cluster: primary, mirrors: [{ cluster_header: x-mirror-cluster }] }',
          '{ name: capped, match: { prefix: /capped }, cluster: primary, mirrors: [{ cluster: slow-mirror }] }',
        ],
        clusters: [
          `{ name: primary, endpoints: ["127.0.0.1:${primary.port}"] }`,
          `{ name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }`,
          `{ name: slow-mirror, endpoints: ["127.0.0.1:${slowMirror.port}"], max_stream_duration: 0.2s }`,
        ],
      },
      { mirrorMarkerHeader: { name: 'x-shadowplane-mirror', value: '1' } },
    );
    // Runtime values can come with a config, as an RTDS layer would send them.
    assert.deepEqual(await plane.plane.apply(plane.resources, { 'test.off': 0 }), { ok: true });
  });

  after(() => closeAll(plane.plane, primary, mirror, slowMirror));

  const route = (r: string) => ({ route_config: 'front', virtual_host: 'all', route: r });

  it('counts eligible, sampled, sent and responses per route and mirror; copies carry the marker, primaries not', async () => {
    await runBounded(5, 5, (i) => plane.get('/always', { 'x-test-tag': `always-${i}` }));
    await mirror.waitFor(5, 5000, (r) => String(r.headers['x-test-tag']).startsWith('always-'));
    const labels = { ...route('always'), mirror: 'mirror' };
    assert.equal(await plane.metric('shadowplane_mirror_eligible_total', labels), 5);
    assert.equal(await plane.metric('shadowplane_mirror_sampled_total', labels), 5);
    assert.equal(await plane.metric('shadowplane_mirror_sent_total', { ...labels, cluster: 'mirror' }), 5);
    const deadline = Date.now() + 3000;
    while ((await plane.metric('shadowplane_mirror_responses_total', { ...labels, status_class: '2xx' })) < 5 && Date.now() < deadline) await sleep(10);
    assert.equal(await plane.metric('shadowplane_mirror_responses_total', { ...labels, status_class: '2xx' }), 5);
    assert.equal(await plane.metric('shadowplane_mirror_duration_seconds', { cluster: 'mirror' }), 5);
    assert.equal(await plane.metric('shadowplane_primary_responses_total', { ...route('always'), cluster: 'primary', status_class: '2xx' }), 5);
    assert.equal(mirror.tagged('always-0')[0]!.headers['x-shadowplane-mirror'], '1');
    assert.equal(primary.tagged('always-0')[0]!.headers['x-shadowplane-mirror'], undefined);
  });

  it('a chunked upload is streamed to the primary and the copy alike, still chunked', async () => {
    const chunks = Array.from({ length: 20 }, () => randomBytes(16 * 1024));
    const res = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: plane.front, path: '/always', method: 'POST', agent: false, headers: { host: 'mirror.example', 'x-test-tag': 'chunked' } }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
    assert.equal(res, 200);
    await mirror.waitFor(1, 3000, (r) => r.headers['x-test-tag'] === 'chunked');
    const sha = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    for (const got of [primary.tagged('chunked')[0]!, mirror.tagged('chunked')[0]!]) {
      assert.deepEqual([got.bodyLength, got.bodySha256, got.headers['transfer-encoding']], [20 * 16 * 1024, sha, 'chunked']);
    }
  });

  it('a runtime value of 0 turns a policy off: eligible, never sampled', async () => {
    await runBounded(4, 4, () => plane.get('/off'));
    const labels = { ...route('off'), mirror: 'mirror' };
    assert.equal(await plane.metric('shadowplane_mirror_eligible_total', labels), 4);
    assert.equal(await plane.metric('shadowplane_mirror_sampled_total', labels), 0);
  });

  it('cluster_header: missing and unknown names are dropped by reason, and the unknown name never becomes a label', async () => {
    await plane.get('/by-header');
    await plane.get('/by-header', { 'x-mirror-cluster': 'no-such-cluster-7f3a' });
    await plane.get('/by-header', { 'x-mirror-cluster': 'mirror', 'x-test-tag': 'by-header' });
    await mirror.waitFor(1, 3000, (r) => r.headers['x-test-tag'] === 'by-header');
    const labels = { ...route('by-header'), mirror: 'header:x-mirror-cluster' };
    assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { ...labels, cluster: '', reason: 'no_cluster_header' }), 1);
    assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { ...labels, cluster: '', reason: 'unknown_cluster' }), 1);
    assert.equal(await plane.metric('shadowplane_mirror_sent_total', { ...labels, cluster: 'mirror' }), 1);
    assert.doesNotMatch(await plane.registry.metrics(), /no-such-cluster-7f3a/);
  });

  it("a copy that outlives its cluster's max_stream_duration is cut off and counted; the primary answered long before", async () => {
    const started = Date.now();
    const res = await plane.get('/capped');
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 500);
    const labels = { ...route('capped'), mirror: 'slow-mirror', cluster: 'slow-mirror' };
    const deadline = Date.now() + 3000;
    while ((await plane.metric('shadowplane_mirror_timeouts_total', labels)) < 1 && Date.now() < deadline) await sleep(20);
    assert.equal(await plane.metric('shadowplane_mirror_timeouts_total', labels), 1);
    assert.equal(await plane.metric('shadowplane_mirror_in_flight', { cluster: 'slow-mirror' }), 0);
  });
});
