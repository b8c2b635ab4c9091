// The status page in a real browser: headless Chromium (Debian's package, driven by playwright-core,
// no browser download) against the sandbox. It shows the config, every proxy's sync state (a NACK
// once) and the mirror policies' traffic and comparisons live, shows a rejected edit, renders a
// hostile route name as text, asks for a read token when the admin needs one, and makes no request
// that fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pino } from 'pino';
import { EtcdCluster, findEtcd } from '../src/sandbox/etcd-process.js';
import { startServer } from '../src/server/serve-process.js';
import { requireEnvoy } from './helpers/envoy.js';
import { requireEtcd } from './helpers/etcd.js';
import { httpGet } from './helpers/http-client.js';
import { startControlPlane } from './helpers/control-plane.js';
import { REPO_ROOT } from './helpers/repo.js';
import { startSandbox, type Sandbox } from './helpers/sandbox-process.js';
import { SHADOWPLANE_VERSION as VERSION } from '../src/server/version.js';

const PAGE = 'http://127.0.0.1:19000/';
const HOSTILE = '<img src=x onerror=alert(1)>';

function chromiumBinary(): string | undefined {
  return [process.env.CHROMIUM_BIN, '/usr/bin/chromium'].find((c): c is string => !!c && existsSync(c));
}

/** Chromium, or undefined after marking the test skipped (never in CI, where it fails). */
function requireChromium(t: TestContext): string | undefined {
  const bin = chromiumBinary();
  if (bin) return bin;
  const why = "Chromium not found at /usr/bin/chromium (Debian's chromium package; .ci/run installs it) and CHROMIUM_BIN is not set";
  if (process.env.CI) throw new Error(`${why}; CI must run the browser tests`);
  process.stderr.write(`\n*** SKIPPED: ${t.name}: ${why} ***\n\n`);
  t.skip(why);
  return undefined;
}

// Flags for a closed network and a root user (see the machine notes): no background calls home.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface OpenPage {
  readonly page: Page;
  readonly dialogs: string[];
  /** Script errors, console errors (a failed request logs one), and answers of 400 and above. */
  readonly errors: string[];
}

async function openPage(browser: Browser, url = PAGE, ready = true): Promise<OpenPage> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  await page.goto(url);
  if (ready) await page.waitForSelector('body[data-ready=true]', { timeout: 15_000 });
  return { page, dialogs, errors };
}

const cell = (page: Page, selector: string): Promise<string> => page.locator(selector).first().innerText();

describe('the status page', () => {
  let browser: Browser | undefined;
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-status-page-'));
    const bin = chromiumBinary();
    if (bin) browser = await chromium.launch({ executablePath: bin, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the config and the mirror counters and chart moving with traffic, a rejected edit, and a hostile route name as text', async (t) => {
    if (!requireChromium(t)) return;
    const sb: Sandbox = await startSandbox('builtin');
    try {
      assert.match(sb.output(), /Status page .*: http:\/\/127\.0\.0\.1:19000\//, 'npm start prints the page address');
      const { page, dialogs, errors } = await openPage(browser!);
      assert.equal(await cell(page, '#config-version'), '1');
      assert.equal(await cell(page, '#config-source'), sb.configFile);
      // The front proxy here is the built-in data plane, in the table like any proxy.
      const front = 'tr[data-node="sandbox-front"]';
      await page.waitForFunction((sel) => document.querySelectorAll(`${sel} td[data-state=SYNCED]`).length === 5, front, { timeout: 15_000 });
      // Its agent is shadowplane with its version, and it holds version 1.
      assert.equal(await cell(page, `${front} td.agent`), `shadowplane ${VERSION}`);
      assert.equal(await cell(page, `${front} td.version`), '1');
      const row = 'tr[data-key="front/backend/service1/service1-mirror"]';
      assert.equal(await cell(page, `${row} td.percent`), '100%');

      for (let i = 0; i < 20; i++) assert.equal((await httpGet(10000, '/service/1', { host: 'localhost:10000' })).status, 200);
      await page.waitForFunction((sel) => Number(document.querySelector(`${sel} td.sent`)?.textContent) >= 20, row, { timeout: 15_000 });
      assert.equal(await cell(page, `${row} td.eligible`), '20');
      assert.equal(await cell(page, `${row} td.responses`), '2xx 20');
      // The chart: copies per second over the sampled minutes (a sample every 2 s). Steady traffic
      // (bounded: at most 15 s) shows as a rate above zero.
      const chartMoved = (): Promise<boolean> => page.evaluate(() => Number(document.getElementById('chart')?.dataset.total) > 0);
      const deadline = Date.now() + 15_000;
      for (let i = 0; (i < 5 || !(await chartMoved())) && Date.now() < deadline; i++) {
        await httpGet(10000, '/service/1', { host: 'localhost:10000' });
        await page.waitForTimeout(200);
      }
      assert.ok(await chartMoved(), 'the chart shows copies per second above zero');
      assert.ok((await page.locator('#chart canvas').count()) > 0, 'uPlot drew the chart');
      // The chart plots any of the counters: eligible requests and mirror 2xx moved with the same
      // traffic; no copy timed out or failed.
      for (const [metric, moved] of [['eligible', true], ['2xx', true], ['failed', false]] as const) {
        await page.selectOption('#chart-metric', metric);
        assert.equal(await page.evaluate(() => document.getElementById('chart')?.dataset.metric), metric);
        assert.equal(await page.evaluate(() => Number(document.getElementById('chart')?.dataset.total) > 0), moved, `chart of ${metric}`);
      }
      await page.selectOption('#chart-metric', 'sent');
      await page.waitForFunction((sel) => Number(document.querySelector(`${sel} td.sent`)?.textContent) >= 25, row, { timeout: 10_000 });

      // An invalid edit: shown with its problem, and the version stays.
      const good = await readFile(sb.configFile, 'utf8');
      await writeFile(sb.configFile, good.replace('cluster: service1-mirror', 'cluster: ghost-mirror'));
      await page.waitForSelector('#rejected:not([hidden])', { timeout: 15_000 });
      assert.match(await cell(page, '#rejected-problems'), /:\d+:\d+ .*unknown cluster "ghost-mirror" \[SP003\]/);
      assert.equal(await cell(page, '#config-version'), '1');

      // A valid edit with a route named like markup: applied, shown as text, never run.
      await writeFile(sb.configFile, good.replace('name: service1\n', `name: "${HOSTILE}"\n`));
      await page.waitForFunction(() => document.getElementById('config-version')?.textContent === '2', undefined, { timeout: 15_000 });
      assert.ok(await page.locator('#rejected').isHidden(), 'an accepted edit clears the rejected one');
      await page.waitForFunction((name) => document.querySelector('#mirror-table')?.textContent?.includes(name), HOSTILE, { timeout: 15_000 });
      assert.equal(await page.locator('#mirror-table img, body img').count(), 0, 'the route name became no element');
      await page.waitForTimeout(500);
      assert.deepEqual(dialogs, [], 'no script ran');

      // Response comparison on the mirror: the mirror answers "service 1 mirror", so the bodies differ.
      await writeFile(sb.configFile, good.replace('              - cluster: service1-mirror\n', '              - cluster: service1-mirror\n                compare: {}\n'));
      await page.waitForFunction(() => document.getElementById('config-version')?.textContent === '3', undefined, { timeout: 15_000 });
      for (let i = 0; i < 3; i++) await httpGet(10000, '/service/1', { host: 'localhost:10000' });
      await page.waitForFunction(() => Number(document.getElementById('compare-mismatch')?.textContent) >= 3, undefined, { timeout: 15_000 });
      assert.ok(await page.locator('#compare').isVisible(), 'the comparison section shows');
      assert.equal(await cell(page, '#compare-match'), '0');
      const diff = await page.locator('#diff-table tbody tr').first().innerText();
      assert.match(diff, /front \/ backend \/ service1\s+service1-mirror \(service1-mirror\)\s+body\s+Hello from behind shadowplane \(service 1\)!\s+Hello from behind shadowplane \(service 1 mirror\)!/);

      // A NACK (the listener moved to a port already in use): shown once, with Envoy's (here the data plane's) reason.
      await writeFile(sb.configFile, good.replace('address: 0.0.0.0:10000', 'address: 127.0.0.1:19000'));
      await page.waitForSelector(`${front} td[data-type=LDS][data-state=NACKED]`, { timeout: 15_000 });
      await page.waitForTimeout(2500); // another poll: the notes are rebuilt, not appended
      const notes = await page.locator('#proxy-notes li').allInnerTexts();
      assert.equal(notes.filter((n) => n.startsWith('sandbox-front LDS ')).length, 1, notes.join('\n'));
      assert.match(notes.find((n) => n.startsWith('sandbox-front LDS '))!, /^sandbox-front LDS NACKED at \S+: .*(EADDRINUSE|in use)/);
      assert.equal(await cell(page, `${front} td.version`), '3', 'it keeps the version it applied');
      await writeFile(sb.configFile, good);
      await page.waitForFunction((sel) => document.querySelectorAll(`${sel} td[data-state=SYNCED]`).length === 5, front, { timeout: 15_000 });
      assert.deepEqual(errors, []);

      const shot = path.join(dir, 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok((await stat(shot)).size > 10_000, 'a screenshot was saved');
      t.diagnostic(`screenshot: ${shot}`);
      // The README's picture is this one: STATUS_PAGE_SCREENSHOT=docs/status-page.png refreshes it.
      if (process.env.STATUS_PAGE_SCREENSHOT) await copyFile(shot, path.resolve(REPO_ROOT, process.env.STATUS_PAGE_SCREENSHOT));
      await page.close();
    } finally {
      assert.equal(await sb.stop(), 0, sb.output());
    }
  });

  it('with a read token: asks for it, refuses a wrong one, keeps the right one for the tab (not for a new one)', async (t) => {
    if (!requireChromium(t)) return;
    const cp = await startControlPlane(await readFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8'), { server: { adminReadToken: 'r3ad-token' } });
    try {
      const url = `http://127.0.0.1:${cp.adminPort}/`;
      const { page, errors } = await openPage(browser!, url, false);
      await page.waitForSelector('#auth:not([hidden])', { timeout: 15_000 });
      assert.match(await cell(page, '#error'), /needs a read token/);
      await page.fill('#token', 'wrong');
      await page.click('#token-form button');
      await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('the token was refused'), undefined, { timeout: 15_000 });
      assert.ok(await page.locator('#auth').isVisible());
      await page.fill('#token', 'r3ad-token');
      await page.click('#token-form button');
      await page.waitForSelector('body[data-ready=true]', { timeout: 15_000 });
      assert.equal(await cell(page, '#config-version'), '1');
      assert.ok(await page.locator('#auth').isHidden());
      assert.ok(await page.locator('#error').isHidden());
      // Kept for the tab: a reload reads at once; a new tab asks again.
      await page.reload();
      await page.waitForSelector('body[data-ready=true]', { timeout: 15_000 });
      assert.ok(await page.locator('#auth').isHidden());
      const other = await openPage(browser!, url, false);
      await other.page.waitForSelector('#auth:not([hidden])', { timeout: 15_000 });
      await other.page.close();
      assert.ok(errors.every((e) => /HTTP 401|status of 401/.test(e)), `only the refusals before the token: ${errors.join('\n')}`);
      await page.close();
    } finally {
      await cp.stop();
    }
  });

  it('shows the front proxy SYNCED for every type with real Envoy', async (t) => {
    if (!requireChromium(t) || !requireEnvoy(t)) return;
    const sb = await startSandbox('envoy');
    try {
      const { page, errors } = await openPage(browser!);
      const row = 'tr[data-node="sandbox-front"]';
      await page.waitForFunction((sel) => document.querySelectorAll(`${sel} td[data-state=SYNCED]`).length === 5, row, { timeout: 20_000 });
      for (const type of ['CDS', 'EDS', 'LDS', 'RDS', 'RTDS']) assert.equal(await cell(page, `${row} td[data-type=${type}]`), 'SYNCED');
      assert.equal(await cell(page, `${row} td.agent`), '1.40.0');
      // The counters come from the built-in data plane, which does not run here; nor are comparisons asked for.
      assert.equal(await cell(page, 'tr[data-key="front/backend/service1/service1-mirror"] td.sent'), '–');
      assert.match(await cell(page, '#mirror-note'), /Counters come from the built-in data plane/);
      await page.waitForTimeout(2500);
      assert.ok(await page.locator('#compare').isHidden());
      assert.deepEqual(errors, [], 'no failed request, no console error');
      await page.close();
    } finally {
      assert.equal(await sb.stop(), 0, sb.output());
    }
  });

  it('shows an etcd source with its store up, then down (in red) while etcd is away, and up again', async (t) => {
    if (!requireChromium(t) || !requireEtcd(t)) return;
    const etcd = await EtcdCluster.start(findEtcd()!, { dir: path.join(dir, 'etcd'), size: 1 });
    const url = etcd.url('/shadowplane/page');
    const server = await startServer({ configFile: url, xds: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, adminToken: 'page-token', watch: true }, pino({ level: 'silent' }));
    try {
      const put = await fetch(`http://127.0.0.1:${server!.adminPort}/config`, { method: 'PUT', body: await readFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8'), headers: { authorization: 'Bearer page-token' } });
      assert.equal(put.status, 200);
      const { page } = await openPage(browser!, `http://127.0.0.1:${server!.adminPort}/`);
      const line = (): Promise<string> => cell(page, '#config-source');
      await page.waitForFunction(() => document.getElementById('config-source')?.dataset.store === 'up', undefined, { timeout: 15_000 });
      assert.equal(await line(), `${url} (store up)`);
      await etcd.stopAll('SIGKILL');
      await page.waitForFunction(() => document.getElementById('config-source')?.dataset.store === 'down', undefined, { timeout: 15_000 });
      assert.match(await line(), new RegExp(`^${url.replace(/[.]/g, '\\.')} \\(store down since \\S+: etcd \\(.*\\) did not answer: .*; the last good config keeps being served, writes fail\\)$`));
      assert.equal(await page.locator('#config-source').evaluate((e) => getComputedStyle(e).color), 'rgb(185, 28, 28)', 'in the page\'s red (--bad)');
      await etcd.startAll();
      await page.waitForFunction(() => document.getElementById('config-source')?.dataset.store === 'up', undefined, { timeout: 20_000 });
      await page.close();
    } finally {
      await server?.close();
      await etcd.close();
    }
  });
});
