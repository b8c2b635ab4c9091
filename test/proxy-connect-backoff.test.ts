// The mirror connect backoff as a timeline: 50 ms after the first failure, doubling to 1 s, reset by a success.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConnectBackoff } from '../src/proxy/mirror/connect-backoff.js';

it('blocks for a doubling while after each failure, and not at all after a success', () => {
  const b = new ConnectBackoff();
  assert.equal(b.blocked(0), false);
  b.failed(0);
  assert.deepEqual([b.blocked(49), b.blocked(50)], [true, false]);
  b.failed(50);
  assert.deepEqual([b.blocked(149), b.blocked(150)], [true, false]);
  for (let t = 150, i = 0; i < 10; i++, t += 2000) b.failed(t);
  assert.deepEqual([b.blocked(18_150 + 999), b.blocked(18_150 + 1000)], [true, false], 'capped at 1 s');
  b.succeeded();
  assert.equal(b.blocked(18_150 + 1), false);
  b.failed(20_000);
  assert.deepEqual([b.blocked(20_049), b.blocked(20_050)], [true, false], 'starts again from 50 ms');
});
