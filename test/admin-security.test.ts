// The admin endpoint's guards: a read token for /status, /config_dump, /metrics, /mirror_diffs and
// /mirror_stats (the write token reads too; probes and the status page's files stay open); HTTPS with
// a certificate that is re-read when it changes, and `shadowplane status` against it; and no admin
// beyond loopback without a token unless the operator says it is insecure.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { AdminAccess, InsecureAdminError, isLoopbackHost } from '../src/server/admin-access.js';
import { waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { makeTestPki, servedCertificate, SERVER_REQUEST, type TestPki } from './helpers/pki.js';
import { REPO_ROOT } from './helpers/repo.js';
import type { PemFiles } from '../src/tls/local-ca.js';

const execFileAsync = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'bin/shadowplane.js');
const CONFIG = `listeners:
  - { name: front, address: 127.0.0.1:1, virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a }] }] }
clusters: [{ name: a, endpoints: ["127.0.0.1:2"] }]
`;
/** No token from the environment of whoever runs the tests. */
const ENV = { ...process.env, SHADOWPLANE_ADMIN_TOKEN: '', SHADOWPLANE_ADMIN_READ_TOKEN: '' };

describe('admin read token', () => {
  let cp: TestControlPlane;
  let base = '';
  before(async () => {
    cp = await startControlPlane(CONFIG, { token: 'wr1te', server: { adminReadToken: 'r3ad' } });
    base = `http://127.0.0.1:${cp.adminPort}`;
  });
  after(() => cp.stop());

  const get = (p: string, token?: string) => fetch(`${base}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('reads need the read token (or the write token); a wrong or missing one is 401 with a Bearer challenge', async () => {
    for (const p of ['/status', '/config_dump', '/metrics', '/mirror_diffs', '/mirror_stats']) {
      const none = await get(p);
      assert.equal(none.status, 401, p);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="shadowplane"');
      assert.equal((await get(p, 'r3ad-not')).status, 401, `${p} with a wrong token`);
      assert.equal((await get(p, 'r3a')).status, 401, `${p} with a prefix of the token`);
      // /mirror_diffs is 404 here (no built-in data plane), but only once the caller may read.
      assert.equal((await get(p, 'r3ad')).status, p === '/mirror_diffs' ? 404 : 200, `${p} with the read token`);
      assert.equal((await get(p, 'wr1te')).status, p === '/mirror_diffs' ? 404 : 200, `${p} with the write token`);
    }
    const status = (await (await get('/status', 'r3ad')).json()) as { configVersion: number };
    assert.equal(status.configVersion, 1);
  });

  it('probes and the status page itself stay open', async () => {
    for (const p of ['/healthz', '/readyz', '/', '/ui/app.js']) assert.equal((await get(p)).status, 200, p);
  });

  it('the read token cannot write', async () => {
    const put = (token: string) => fetch(`${base}/config`, { method: 'PUT', body: CONFIG, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await put('r3ad')).status, 401);
    assert.equal((await put('wr1te')).status, 200);
  });

  it('`shadowplane status` reads with --admin-token-file, or the environment, and says why it cannot without', async () => {
    const tokenFile = path.join(cp.dir, 'read-token');
    await writeFile(tokenFile, 'r3ad\n');
    const ok = await execFileAsync(process.execPath, [CLI, 'status', '--admin', `127.0.0.1:${cp.adminPort}`, '--admin-token-file', tokenFile], { encoding: 'utf8', env: ENV });
    assert.match(ok.stdout, /^config .*, version \d+, 0 proxies\n/);
    const fromEnv = await execFileAsync(process.execPath, [CLI, 'status', '--admin', `127.0.0.1:${cp.adminPort}`], { encoding: 'utf8', env: { ...ENV, SHADOWPLANE_ADMIN_READ_TOKEN: 'r3ad' } });
    assert.match(fromEnv.stdout, /0 proxies/);
    const refused = await execFileAsync(process.execPath, [CLI, 'status', '--admin', `127.0.0.1:${cp.adminPort}`], { encoding: 'utf8', env: ENV }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((refused as { code: number }).code, 1);
    assert.match((refused as { stderr: string }).stderr, /^shadowplane: cannot read http:\/\/127\.0\.0\.1:\d+\/status: HTTP 401: reads need a token/);
  });
});

describe('admin over HTTPS', () => {
  let pki: TestPki;
  let cp: TestControlPlane;
  let adminFiles: PemFiles;
  before(async () => {
    pki = await makeTestPki();
    adminFiles = await pki.issue('admin', SERVER_REQUEST);
    cp = await startControlPlane(CONFIG, { server: { adminTls: { ...adminFiles, refreshMs: 100 }, adminReadToken: 'r3ad' } });
  });
  after(async () => {
    await cp?.stop();
    await pki?.remove();
  });

  it('serves HTTPS with the given certificate (not plain HTTP), the read token still enforced', async () => {
    const dispatcher = new Agent({ connect: { ca: readFileSync(pki.caFile) } });
    try {
      const url = `https://127.0.0.1:${cp.adminPort}/status`;
      assert.equal((await undiciFetch(url, { dispatcher })).status, 401);
      assert.equal((await undiciFetch(url, { dispatcher, headers: { authorization: 'Bearer r3ad' } })).status, 200);
    } finally {
      await dispatcher.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${cp.adminPort}/healthz`));
  });

  it('`shadowplane status --admin https://… --admin-ca F --admin-token-file F` works; without the CA it fails on the certificate', async () => {
    const tokenFile = path.join(pki.dir, 'read-token');
    await writeFile(tokenFile, 'r3ad');
    const url = `https://127.0.0.1:${cp.adminPort}`;
    const ok = await execFileAsync(process.execPath, [CLI, 'status', '--admin', url, '--admin-ca', pki.caFile, '--admin-token-file', tokenFile], { encoding: 'utf8', env: ENV });
    assert.match(ok.stdout, /^config .*, version 1, 0 proxies\nNODE/);
    const untrusted = await execFileAsync(process.execPath, [CLI, 'status', '--admin', url, '--admin-token-file', tokenFile], { encoding: 'utf8', env: ENV }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((untrusted as { code: number }).code, 1);
    assert.match((untrusted as { stderr: string }).stderr, /^shadowplane: cannot read https:\/\/127\.0\.0\.1:\d+\/status: .*certificate/);
  });

  it('picks up a new certificate written over its files, for new connections', async () => {
    const served = (): Promise<string> => servedCertificate(cp.adminPort, pki.caFile);
    const before = await served();
    const rotated = await pki.rotateServer(adminFiles);
    assert.notEqual(rotated, before);
    await waitFor('the new certificate is served', async () => (await served()) === rotated, 10_000);
  });
});

describe('admin beyond loopback', () => {
  it('`serve` and `proxy` refuse to start without a token, in one line, exit 2', () => {
    for (const args of [
      ['serve', '--config', 'configs/sandbox.yaml', '--xds', '127.0.0.1:0', '--admin', '0.0.0.0:0'],
      ['proxy', '--xds', '127.0.0.1:9', '--node-id', 'x', '--admin', '0.0.0.0:19999'],
    ]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: ENV, timeout: 20_000 });
      assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^shadowplane: refusing to serve the admin endpoint on 0\.0\.0\.0:\d+, beyond loopback, without a token: .*--admin-insecure-no-token\n$/);
      assert.equal(r.stdout, '', 'nothing started');
    }
  });

  it('which addresses are loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '::ffff:10.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  });

  it('a token, or the insecure override, lets it start; beyond loopback reads are never open while there is a token', () => {
    assert.throws(() => new AdminAccess('0.0.0.0', 19000, {}), InsecureAdminError);
    assert.throws(() => new AdminAccess('10.1.2.3', 19000, { readToken: '' }), InsecureAdminError);
    const open = new AdminAccess('0.0.0.0', 19000, { insecureNoToken: true });
    assert.equal(open.canRead(undefined), true);
    assert.equal(open.canWrite('Bearer x'), 'disabled');
    const writeOnly = new AdminAccess('0.0.0.0', 19000, { writeToken: 'w' });
    assert.equal(writeOnly.canRead(undefined), false, 'beyond loopback, reads need the write token when there is no read token');
    assert.equal(writeOnly.canRead('Bearer w'), true);
    assert.equal(writeOnly.canWrite('Bearer w'), 'allowed');
    const loopback = new AdminAccess('127.0.0.1', 19000, { writeToken: 'w' });
    assert.equal(loopback.canRead(undefined), true, 'on loopback, reads are open until a read token is set');
    const both = new AdminAccess('127.0.0.1', 19000, { writeToken: 'w', readToken: 'r' });
    assert.deepEqual(['Bearer r', 'Bearer w', 'bearer r', 'Bearer rr', 'Bearer ', 'r', undefined].map((h) => both.canRead(h)), [true, true, true, false, false, false, false]);
    assert.deepEqual(['Bearer w', 'Bearer r', undefined].map((h) => both.canWrite(h)), ['allowed', 'denied', 'denied']);
  });
});
