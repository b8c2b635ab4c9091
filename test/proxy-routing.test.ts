// Forwarding in the built-in data plane where one process decides what Envoy leaves to its workers or
// to chance: endpoint round robin with weights, circuit breakers, and a disabled route timeout.
// (Behaviour shared with Envoy is checked against real Envoy in test/conformance.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAll, rawExchange, startBackend, startFrontPlane, type Backend, type FrontPlane } from './helpers/proxy-harness.js';
import { sleep } from '../src/sandbox/wait.js';

describe('forwarding', () => {
  let a: Backend;
  let b: Backend;
  let paced: Backend;
  let plane: FrontPlane;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    paced = await startBackend('paced', { kind: 'delay', ms: 300 });
    plane = await startFrontPlane({
      host: 'routing.example',
      routes: [
        '{ name: weighted, match: { prefix: /weighted }, cluster: pair }',
        '{ name: guarded, match: { prefix: /guarded }, cluster: guarded }',
        '{ name: untimed, match: { prefix: /untimed }, cluster: paced, timeout: 0s }',
      ],
      clusters: [
        `{ name: pair, endpoints: [{ address: "127.0.0.1:${a.port}", weight: 3 }, { address: "127.0.0.1:${b.port}", weight: 1 }] }`,
        `{ name: guarded, endpoints: ["127.0.0.1:${paced.port}"], circuit_breakers: { max_connections: 1, max_pending_requests: 1, max_requests: 1 } }`,
        `{ name: paced, endpoints: ["127.0.0.1:${paced.port}"] }`,
      ],
    });
  });

  after(() => closeAll(plane.plane, a, b, paced));

  it('round robin honours endpoint weights (3:1), interleaved', async () => {
    const order: string[] = [];
    for (let i = 0; i < 8; i++) order.push((await plane.get('/weighted')).body.trim());
    assert.deepEqual(order, ['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('circuit breakers: one request runs, one waits for the connection, the next overflows; the slots come back', async () => {
    const res = await Promise.all([0, 1, 2].map((i) => sleep(i * 50).then(() => plane.get('/guarded'))));
    assert.deepEqual(
      res.map((r) => [r.status, r.headers['x-envoy-overloaded'] ?? null, r.body]),
      [
        [200, null, 'paced\n'],
        [200, null, 'paced\n'],
        [503, 'true', 'upstream connect error or disconnect/reset before headers. reset reason: overflow'],
      ],
    );
    assert.equal(await plane.metric('shadowplane_local_replies_total', { reason: 'overflow' }), 1);
    assert.equal((await plane.get('/guarded')).status, 200);
  });

  it('timeout 0s disables the route timeout and the x-envoy-expected-rq-timeout-ms header', async () => {
    const res = await plane.get('/untimed', { 'x-test-tag': 'untimed' });
    assert.equal(res.status, 200);
    const got = paced.tagged('untimed')[0]!;
    assert.equal(got.headers['x-envoy-expected-rq-timeout-ms'], undefined);
    assert.match(String(res.headers['x-envoy-upstream-service-time']), /^\d+$/);
  });

  it('an absolute-form request target routes by its authority, which becomes the Host', async () => {
    const raw = await rawExchange(plane.front, 'GET http://absolute.example/weighted?q=1 HTTP/1.1\r\nhost: ignored.example\r\nx-test-tag: absolute\r\nconnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    const got = [...a.tagged('absolute'), ...b.tagged('absolute')][0]!;
    assert.equal(got.host, 'absolute.example');
    assert.equal(got.path, '/weighted?q=1');
  });
});
