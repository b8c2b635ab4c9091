// The built-in data plane under misbehaving peers: clients that leave mid-body or mid-wait, upstreams
// that reset mid-response, slow readers, junk on the socket. Each ends in a clear status or a reset
// of that one stream; the process, the circuit-breaker slots and the mirror buffers all recover.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../src/sandbox/wait.js';
import {
  closeAll,
  closeServer,
  listenOnLoopback,
  rawExchange,
  runBounded,
  startBackend,
  startFrontPlane,
  type Backend,
  type FrontPlane,
} from './helpers/proxy-harness.js';

const STREAM_BYTES = 64 * 1024 * 1024;

/** /truncated: promises 100 bytes, sends 7, resets. /stream: 64 MiB, recording how much was written. */
async function startMisbehavingBackend(): Promise<{ port: number; written: () => number; close(): Promise<void> }> {
  let written = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/truncated') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    written = 0;
    res.writeHead(200, { 'content-length': String(STREAM_BYTES) });
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = (): void => {
      while (written < STREAM_BYTES) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  return { port: await listenOnLoopback(server), written: () => written, close: () => closeServer(server) };
}

describe('robustness', () => {
  let primary: Backend;
  let mirror: Backend;
  let misbehaving: Awaited<ReturnType<typeof startMisbehavingBackend>>;
  let plane: FrontPlane;

  before(async () => {
    primary = await startBackend('primary', { kind: 'delay', ms: 300 });
    mirror = await startBackend('mirror');
    misbehaving = await startMisbehavingBackend();
    plane = await startFrontPlane({
      host: 'a',
      routes: [
        '{ name: guarded, match: { prefix: /guarded }, cluster: guarded, mirrors: [{ cluster: mirror }] }',
        '{ name: misbehaving, match: { prefix: / }, cluster: misbehaving }',
      ],
      clusters: [
        `{ name: guarded, endpoints: ["127.0.0.1:${primary.port}"], circuit_breakers: { max_connections: 1, max_pending_requests: 1, max_requests: 1 } }`,
        `{ name: mirror, endpoints: ["127.0.0.1:${mirror.port}"] }`,
        `{ name: misbehaving, endpoints: ["127.0.0.1:${misbehaving.port}"] }`,
      ],
    });
  });

  after(() => closeAll(plane.plane, primary, mirror, misbehaving));

  /** Both circuit-breaker slots of `guarded` are free again: two requests at once both get through. */
  async function slotsFree(): Promise<boolean> {
    const res = await runBounded(2, 2, () => plane.get('/guarded'));
    return res.every((r) => r.status === 200);
  }

  it('a client that leaves mid-body: its copy is dropped as request_incomplete and every slot and byte comes back', async () => {
    const socket = connect(plane.front, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST /guarded HTTP/1.1\r\nhost: a\r\ncontent-length: 1048576\r\n\r\n');
    socket.write(Buffer.alloc(100 * 1024, 1));
    await sleep(100);
    socket.destroy();
    const deadline = Date.now() + 3000;
    while ((await plane.metric('shadowplane_mirror_dropped_total', { reason: 'request_incomplete' })) < 1 && Date.now() < deadline) await sleep(20);
    assert.equal(await plane.metric('shadowplane_mirror_dropped_total', { reason: 'request_incomplete' }), 1);
    assert.equal(await plane.metric('shadowplane_mirror_buffered_bytes'), 0);
    assert.equal(await slotsFree(), true);
    assert.equal(await plane.metric('shadowplane_mirror_in_flight', { cluster: 'mirror' }), 0);
  });

  it('a client that leaves while the upstream is still working frees its slot', async () => {
    const req = request({ host: '127.0.0.1', port: plane.front, path: '/guarded', headers: { host: 'a' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    await sleep(100);
    req.destroy();
    await sleep(50);
    assert.equal(await slotsFree(), true);
  });

  it('an upstream that resets after the headers: the client sees its stream reset, the next request is served', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port: plane.front, path: '/truncated', headers: { host: 'a' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('error', () => resolve(`${res.statusCode} reset after "${body}"`));
        res.on('end', () => resolve(`${res.statusCode} complete "${body}"`));
      });
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    assert.equal(outcome, '200 reset after "partial"');
    assert.equal((await plane.get('/guarded')).status, 200);
  });

  it('a slow reader: the response is streamed with backpressure, not buffered whole', async () => {
    const { received, writtenWhilePaused } = await new Promise<{ received: number; writtenWhilePaused: number }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: plane.front, path: '/stream', headers: { host: 'a' }, agent: false }, (res) => {
        let received = 0;
        let writtenWhilePaused = 0;
        res.once('data', (c: Buffer) => {
          received += c.length;
          res.pause();
          setTimeout(() => {
            writtenWhilePaused = misbehaving.written();
            res.on('data', (d: Buffer) => (received += d.length));
            res.resume();
          }, 500);
        });
        res.on('end', () => resolve({ received, writtenWhilePaused }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    process.stdout.write(`# upstream bytes written while the client paused: ${writtenWhilePaused}\n`);
    assert.equal(received, STREAM_BYTES);
    // Socket buffers on the way hold some megabytes; the whole 64 MiB would mean no backpressure.
    assert.ok(writtenWhilePaused < 24 * 1024 * 1024, `upstream wrote ${writtenWhilePaused} bytes while the client was not reading`);
  });

  it('junk connections, CONNECT and upgrades get their answers and leave the listener serving', async () => {
    await runBounded(40, 10, (i) => rawExchange(plane.front, i % 2 ? 'GET /guarded HTTP/1.1\r\nhost: a\r\n' : '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 200));
    assert.match(await rawExchange(plane.front, 'CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n'), /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(await rawExchange(plane.front, 'GET /guarded HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n'), /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.equal((await plane.get('/guarded')).status, 200);
  });
});
