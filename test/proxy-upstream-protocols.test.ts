// Upstream protocols a cluster can ask for: HTTP/2 without TLS (explicit_http_config
// http2_protocol_options, so h2c with prior knowledge), and TLS with the cluster's SNI (or none) and
// no certificate check (an UpstreamTlsContext without a validation context), for primaries and copies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeServer, listenOnLoopback, startFrontPlane, type FrontPlane } from './helpers/proxy-harness.js';
import { sleep } from '../src/sandbox/wait.js';

interface Seen {
  readonly protocol: string;
  readonly authority: string;
  readonly sni: string | undefined;
}

describe('upstream protocols', () => {
  let h2: Http2Server;
  let tls: HttpsServer;
  let plane: FrontPlane;
  const seenH2: Seen[] = [];
  const seenTls: Seen[] = [];

  before(async () => {
    h2 = createHttp2Server((req, res) => {
      seenH2.push({ protocol: `HTTP/${req.httpVersion}`, authority: String(req.headers[':authority']), sni: undefined });
      res.end('h2c\n');
    });
    const h2Port = await listenOnLoopback(h2);
    // A throwaway self-signed certificate; the data plane must not check it.
    const dir = mkdtempSync(path.join(tmpdir(), 'shadowplane-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=upstream.test'], { stdio: 'ignore' });
    tls = createHttpsServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (req, res) => {
      const socket = req.socket as typeof req.socket & { servername?: string | false };
      seenTls.push({ protocol: `HTTP/${req.httpVersion}`, authority: req.headers.host ?? '', sni: socket.servername || undefined });
      res.end('tls\n');
    });
    rmSync(dir, { recursive: true, force: true });
    const tlsPort = await listenOnLoopback(tls);
    plane = await startFrontPlane({
      host: 'svc.example',
      routes: [
        '{ name: h2c, match: { prefix: /h2c }, cluster: h2c, mirrors: [{ cluster: h2c }] }',
        '{ name: tls, match: { prefix: /tls }, cluster: tls, mirrors: [{ cluster: tls }] }',
        '{ name: tls-no-sni, match: { prefix: /no-sni }, cluster: tls-no-sni }',
      ],
      clusters: [
        `{ name: h2c, endpoints: ["127.0.0.1:${h2Port}"], http2: true }`,
        `{ name: tls, endpoints: ["127.0.0.1:${tlsPort}"], tls: { sni: upstream.test } }`,
        `{ name: tls-no-sni, endpoints: ["127.0.0.1:${tlsPort}"], tls: true }`,
      ],
    });
  });

  after(async () => {
    await plane.plane.close();
    await new Promise((resolve) => h2.close(resolve));
    await closeServer(tls);
  });

  async function twoArrive(seen: Seen[]): Promise<void> {
    const deadline = Date.now() + 3000;
    while (seen.length < 2 && Date.now() < deadline) await sleep(10);
  }

  it('an http2 cluster gets HTTP/2 (h2c), primary and copy, with the Host as :authority', async () => {
    const res = await plane.get('/h2c');
    assert.deepEqual([res.status, res.body], [200, 'h2c\n']);
    await twoArrive(seenH2);
    assert.deepEqual(
      [...seenH2].sort((a, b) => a.authority.localeCompare(b.authority)),
      [
        { protocol: 'HTTP/2.0', authority: 'svc.example', sni: undefined },
        { protocol: 'HTTP/2.0', authority: 'svc.example-shadow', sni: undefined },
      ],
    );
  });

  it('a TLS cluster is reached over TLS with its SNI, despite a self-signed certificate', async () => {
    const res = await plane.get('/tls');
    assert.deepEqual([res.status, res.body], [200, 'tls\n']);
    await twoArrive(seenTls);
    assert.deepEqual(
      [...seenTls].sort((a, b) => a.authority.localeCompare(b.authority)),
      [
        { protocol: 'HTTP/1.1', authority: 'svc.example', sni: 'upstream.test' },
        { protocol: 'HTTP/1.1', authority: 'svc.example-shadow', sni: 'upstream.test' },
      ],
    );
  });

  it('without sni in the cluster, no SNI is sent, whatever the Host', async () => {
    seenTls.length = 0;
    const res = await plane.get('/no-sni');
    assert.deepEqual([res.status, res.body], [200, 'tls\n']);
    assert.deepEqual(seenTls, [{ protocol: 'HTTP/1.1', authority: 'svc.example', sni: undefined }]);
  });
});
