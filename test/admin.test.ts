// The admin endpoint and the serve process: health, status, config dump, metrics, replacing the
// config behind a bearer token, `shadowplane status`, SIGHUP reload and clean shutdown.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { freePort } from './helpers/ports.js';
import { REPO_ROOT } from './helpers/repo.js';

const execFileAsync = promisify(execFile);

const CONFIG = (mirror: string): string => `listeners:
  - name: front
    address: 127.0.0.1:1
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: a, mirrors: [{ cluster: ${mirror}, percent: 25 }] }] }]
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
  - { name: m1, endpoints: ["127.0.0.1:2"] }
  - { name: m2, endpoints: ["127.0.0.1:3"] }
`;

describe('admin endpoint', () => {
  let cp: TestControlPlane;
  let client: AdsClient;
  let base = '';
  before(async () => {
    cp = await startControlPlane(CONFIG('m1'), { token: 's3cret' });
    base = `http://127.0.0.1:${cp.adminPort}`;
    client = new AdsClient({ target: `127.0.0.1:${cp.xdsPort}`, node: { id: 'admin-test', cluster: 'c' }, onResponse: () => undefined });
    client.start();
    client.subscribe(TypeUrl.Cluster, []);
    await waitFor('client synced', () => client.acceptedVersion(TypeUrl.Cluster) !== undefined);
  });
  after(async () => {
    client.close();
    await cp.stop();
  });

  it('health and readiness', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it('/status lists the connected proxy with per-type state', async () => {
    const s = (await (await fetch(`${base}/status`)).json()) as { configVersion: number; proxies: Array<{ nodeId: string; types: Record<string, { state: string }> }> };
    assert.equal(s.configVersion, 1);
    const p = s.proxies.find((x) => x.nodeId === 'admin-test')!;
    assert.equal(p.types.CDS!.state, 'SYNCED');
  });

  it('/config_dump shows what a node is served, mirror percentages in the runtime layer', async () => {
    const d = (await (await fetch(`${base}/config_dump?node=admin-test`)).json()) as Record<string, { resources: Array<Record<string, unknown>> }>;
    assert.deepEqual(d.RTDS!.resources[0]!.layer, { 'shadowplane.mirror.front.v.r.m1': { denominator: 'HUNDRED', numerator: 25 } });
    assert.deepEqual(d.CDS!.resources.map((c) => c.name), ['a', 'm1']);
  });

  it('/metrics is Prometheus text with the xDS counters', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^shadowplane_xds_streams_total\{protocol="sotw"\} 1$/m);
    assert.match(text, /^shadowplane_xds_acks_total\{type="CDS"\} \d+$/m);
  });

  it('/mirror_diffs is 404 without a built-in data plane in the process', async () => {
    assert.equal((await fetch(`${base}/mirror_diffs`)).status, 404);
  });

  it('/ is the status page, its assets served with a policy that runs only its own scripts', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await page.text();
    for (const asset of ['/ui/app.js', '/ui/app.css', '/ui/uplot.js', '/ui/uplot.css']) {
      assert.ok(html.includes(asset), `the page loads ${asset}`);
      assert.equal((await fetch(`${base}${asset}`)).status, 200, asset);
    }
    assert.equal((await fetch(`${base}/ui/../package.json`)).status, 404);
  });

  it('/mirror_stats lists every mirror policy in effect, without counters when no built-in data plane runs here', async () => {
    const stats = (await (await fetch(`${base}/mirror_stats`)).json()) as { policies: Array<Record<string, unknown>> };
    assert.deepEqual(stats.policies, [{ routeConfig: 'front', virtualHost: 'v', route: 'r', mirror: 'm1', clusters: ['m1'], percent: 25, counters: null }]);
  });

  it('PUT /config needs the bearer token, rejects a bad config whole, and applies a good one to the file', async () => {
    const put = (body: string, token?: string) =>
      fetch(`${base}/config`, { method: 'PUT', body, headers: token ? { authorization: `Bearer ${token}` } : {} });
    assert.equal((await put(CONFIG('m2'))).status, 401);
    assert.equal((await put(CONFIG('m2'), 'wrong')).status, 401);
    const bad = await put(CONFIG('ghost'), 's3cret');
    assert.equal(bad.status, 422);
    // The problem cites the request body's own lines, not the file's.
    assert.match(((await bad.json()) as { problems: string[] }).problems[0]!, /^PUT \/config body:4:\d+ listeners\[0\]\.virtual_hosts\[0\]\.routes\[0\]\.mirrors\[0\]\.cluster: unknown cluster "ghost"/);
    assert.equal(await readFile(cp.configFile, 'utf8'), CONFIG('m1'), 'a rejected config leaves the file alone');
    assert.equal(cp.controlPlane.cache.configVersion, 1);
    const good = await put(CONFIG('m2'), 's3cret');
    assert.equal(good.status, 200);
    assert.equal(((await good.json()) as { configVersion: number }).configVersion, 2);
    assert.equal(await readFile(cp.configFile, 'utf8'), CONFIG('m2'));
    await sleep(300);
    assert.equal(cp.controlPlane.cache.configVersion, 2, 'the watcher seeing our own write publishes nothing new');
  });

  it('`shadowplane status` prints a proxy table', async () => {
    // Asynchronously: the admin server answering it runs in this process.
    const r = await execFileAsync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'status', '--admin', `127.0.0.1:${cp.adminPort}`], { encoding: 'utf8' });
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^config .*shadowplane\.yaml, version 2, 1 proxies$/);
    assert.match(lines[1]!, /^NODE\s+CLUSTER\s+ENVOY\s+XDS\s+VERSION\s+CDS\s+EDS\s+LDS\s+RDS\s+RTDS$/);
    // It holds version 2 (its one type, CDS, acknowledged at the current content).
    assert.match(lines[2]!, /^admin-test\s+c\s+-\s+SOTW\s+2\s+SYNCED\s+-\s+-\s+-\s+-$/);
  });

  it('GET /config returns the file with the hash of its bytes as ETag; PUT /config with If-Match writes only over that file', async () => {
    const put = (body: string, ifMatch?: string) =>
      fetch(`${base}/config`, { method: 'PUT', body, headers: { authorization: 'Bearer s3cret', ...(ifMatch ? { 'if-match': ifMatch } : {}) } });
    const got = await fetch(`${base}/config`);
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type')!, /^application\/yaml/);
    const text = await got.text();
    assert.equal(text, await readFile(cp.configFile, 'utf8'));
    const tag = got.headers.get('etag')!;
    assert.equal(tag, `"${createHash('sha256').update(text).digest('hex').slice(0, 16)}"`);
    const version = cp.controlPlane.cache.configVersion;

    // Two edits made from the same read: the first wins, the second is told what is there now.
    const first = await put(CONFIG('m1'), tag);
    assert.equal(first.status, 200, await first.clone().text());
    const newTag = first.headers.get('etag')!;
    assert.equal(newTag, `"${createHash('sha256').update(CONFIG('m1')).digest('hex').slice(0, 16)}"`);
    const second = await put(CONFIG('m2'), tag);
    assert.equal(second.status, 409);
    assert.equal(second.headers.get('etag'), newTag);
    assert.match(((await second.json()) as { error: string }).error, /^If-Match "[0-9a-f]{16}" does not hold: the stored config changed \(it is now "[0-9a-f]{16}"\); nothing was written/);
    assert.equal(await readFile(cp.configFile, 'utf8'), CONFIG('m1'));
    assert.equal(cp.controlPlane.cache.configVersion, version + 1);
    // A bare tag (as typed), `*`, and a weak tag (never matches: the comparison is strong).
    assert.equal((await put(CONFIG('m2'), newTag.replace(/"/g, ''))).status, 200);
    assert.equal((await put(CONFIG('m1'), '*')).status, 200);
    assert.equal((await put(CONFIG('m2'), `W/${(await fetch(`${base}/config`)).headers.get('etag')}`)).status, 409);
    assert.equal(await readFile(cp.configFile, 'utf8'), CONFIG('m1'));
  });
});

describe('shadowplane serve (process)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-serve-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reloads on SIGHUP, refuses PUT /config without a token, and exits 0 on SIGTERM', async () => {
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, CONFIG('m1'));
    const [xds, admin] = [await freePort(), await freePort()];
    const env = { ...process.env, SHADOWPLANE_ADMIN_TOKEN: '' };
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', file, '--xds', `127.0.0.1:${xds}`, '--admin', `127.0.0.1:${admin}`, '--no-watch'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const version = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${admin}/status`)).json()) as { configVersion: number }).configVersion;
    try {
      await waitFor('serving', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200);
      assert.equal(await version(), 1);
      assert.equal((await fetch(`http://127.0.0.1:${admin}/config`, { method: 'PUT', body: CONFIG('m2') })).status, 403);
      await writeFile(file, CONFIG('m2'));
      await sleep(300);
      assert.equal(await version(), 1, '--no-watch: an edit alone changes nothing');
      child.kill('SIGHUP');
      await waitFor('reloaded on SIGHUP', async () => (await version()) === 2);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(out, /"msg":"shutting down"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('takes the PUT /config token from --admin-token-file', async () => {
    const file = path.join(dir, 'token.yaml');
    const tokenFile = path.join(dir, 'token');
    await writeFile(file, CONFIG('m1'));
    await writeFile(tokenFile, 'from-file\n');
    const admin = await freePort();
    const env = { ...process.env, SHADOWPLANE_ADMIN_TOKEN: '' };
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', file, '--xds', '127.0.0.1:0', '--admin', `127.0.0.1:${admin}`, '--admin-token-file', tokenFile, '--no-watch'], { env, stdio: 'ignore' });
    try {
      await waitFor('serving', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200);
      const put = (token: string) => fetch(`http://127.0.0.1:${admin}/config`, { method: 'PUT', body: CONFIG('m2'), headers: { authorization: `Bearer ${token}` } });
      assert.equal((await put('wrong')).status, 401);
      const ok = await put('from-file');
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { configVersion: number }).configVersion, 2);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses to start on an invalid config, printing every problem', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, CONFIG('ghost'));
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'serve', '--config', file, '--xds', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /unknown cluster \\"ghost\\"/);
    assert.match(r.stderr, /not served: the config is invalid/);
    assert.doesNotMatch(r.stdout, /last good config|keeps being served/, 'there is no good config to keep serving');
    assert.match(r.stdout, /nothing is served until a valid config loads/);
  });
});

describe('the config file watcher', () => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startControlPlane(CONFIG('m1'));
  });
  after(() => cp.stop());

  it('a file written with shell redirection (truncated, then written a moment later) is applied, never rejected as empty', async () => {
    await writeFile(cp.configFile, ''); // `>` truncates first…
    await sleep(400); // …past the watcher's debounce…
    await writeFile(cp.configFile, CONFIG('m2')); // …then the shell's command writes
    await waitFor('the edit applied', () => cp.controlPlane.cache.configVersion === 2);
    assert.equal(cp.controlPlane.lastRejected, undefined, 'the empty moment was not rejected');
  });

  it('a file that stays empty is rejected with that reason, and the last good config keeps being served', async () => {
    await writeFile(cp.configFile, '');
    await waitFor('rejected', () => cp.controlPlane.lastRejected !== undefined, 5000);
    assert.match(cp.controlPlane.lastRejected!.problems[0]!, /the file is empty/);
    assert.equal(cp.controlPlane.cache.configVersion, 2);
  });
});
