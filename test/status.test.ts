// Status that never lies, and a rollout check: a type is SYNCED only once the proxy has acknowledged
// the current content, PENDING while a response waits for its ACK, STALE (with what it waits for)
// while make-before-break holds it back, NACKED with the proxy's message. `shadowplane status` exits
// non-zero unless every proxy is SYNCED; `status --wait` returns once they are, and fails on a NACK
// or at its timeout, saying who is behind and why. The built-in data plane shows like any proxy.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { TypeUrl } from '../src/envoy-api/type-urls.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { AdsClient } from '../src/xds-client/ads-client.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { freePort } from './helpers/ports.js';
import { REPO_ROOT } from './helpers/repo.js';

const run = promisify(execFile);

/** `shadowplane status …` as a user runs it: exit code and output. */
async function status(admin: number, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  try {
    const r = await run(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), 'status', '--admin', `127.0.0.1:${admin}`, ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr, ms: Date.now() - started };
  }
}

const CONFIG = (cluster: string, listenerPort: number): string => `listeners:
  - name: front
    address: 127.0.0.1:${listenerPort}
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: ${cluster} }] }]
clusters:
  - { name: ${cluster}, endpoints: ["127.0.0.1:1"] }
`;

/** An ADS client whose ACKs wait until released (or that NACKs one type), as a slow or picky proxy would. */
class HeldClient {
  private release: (() => void) | undefined;
  private gate: Promise<void> = Promise.resolve();
  readonly client: AdsClient;

  constructor(port: number, id: string, o: { nack?: string } = {}) {
    this.client = new AdsClient({
      target: `127.0.0.1:${port}`,
      node: { id, cluster: 'test' },
      onResponse: async (r) => {
        await this.gate;
        return r.typeUrl === o.nack ? 'rejected for the test' : undefined;
      },
    });
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  letGo(): void {
    this.release?.();
  }

  start(...types: string[]): void {
    this.client.start();
    for (const t of types) this.client.subscribe(t, []);
  }

  close(): void {
    this.letGo();
    this.client.close();
  }
}

describe('status that never lies', () => {
  let cp: TestControlPlane;
  let front = 0;
  before(async () => {
    front = await freePort();
    cp = await startControlPlane(CONFIG('a', front));
  });
  after(() => cp.stop());

  const types = async (node: string): Promise<Record<string, { state: string; reason?: string }>> => {
    const s = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/status?node=${node}`)).json()) as { proxies: Array<{ types: Record<string, { state: string; reason?: string }> }> };
    return s.proxies[0]?.types ?? {};
  };

  it('PENDING while a response waits for its ACK, SYNCED once acknowledged; plain status exits 1, then 0', async () => {
    const c = new HeldClient(cp.xdsPort, 'slow-1');
    c.hold();
    c.start(TypeUrl.Cluster);
    try {
      await waitFor('CDS sent', async () => (await types('slow-1')).CDS?.state === 'PENDING');
      assert.match((await types('slow-1')).CDS!.reason!, /sent; waiting for the proxy's ACK/);
      const pending = await status(cp.adminPort);
      assert.equal(pending.code, 1, pending.stdout);
      assert.match(pending.stdout, /slow-1 CDS PENDING: version \w+ sent; waiting for the proxy's ACK/);
      c.letGo();
      await waitFor('CDS SYNCED', async () => (await types('slow-1')).CDS?.state === 'SYNCED');
      const synced = await status(cp.adminPort);
      assert.equal(synced.code, 0, synced.stdout);
    } finally {
      c.close();
    }
  });

  it('routes waiting for clusters are STALE with what they wait for (make-before-break)', async () => {
    const c = new HeldClient(cp.xdsPort, 'slow-2');
    c.hold();
    c.start(TypeUrl.Cluster, TypeUrl.Listener);
    c.client.subscribe(TypeUrl.ClusterLoadAssignment, ['a']);
    try {
      await waitFor('LDS held back', async () => (await types('slow-2')).LDS?.state === 'STALE');
      assert.equal((await types('slow-2')).LDS!.reason, 'make-before-break: waiting for the proxy to acknowledge the current clusters (CDS)');
      c.letGo();
      await waitFor('both SYNCED', async () => {
        const t = await types('slow-2');
        return t.CDS?.state === 'SYNCED' && t.LDS?.state === 'SYNCED';
      });
    } finally {
      c.close();
    }
  });

  it('status --wait returns once every proxy acknowledges the current version', async () => {
    const c = new HeldClient(cp.xdsPort, 'slow-3');
    c.start(TypeUrl.Cluster);
    try {
      await waitFor('SYNCED', async () => (await types('slow-3')).CDS?.state === 'SYNCED');
      c.hold();
      const version = cp.controlPlane.cache.configVersion;
      await cp.edit(CONFIG('b', front));
      const waiting = status(cp.adminPort, '--wait', '--timeout', '20s');
      await waitFor('edit published', () => cp.controlPlane.cache.configVersion === version + 1);
      await sleep(800);
      // While it holds the ACK back, the proxy's VERSION is still the one it acknowledged.
      const behindNow = await status(cp.adminPort);
      assert.match(behindNow.stdout, new RegExp(`^slow-3\\s+test\\s+-\\s+SOTW\\s+${version}\\s+PENDING`, 'm'));
      c.letGo();
      const r = await waiting;
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.ok(r.ms >= 800, `returned after ${r.ms} ms, before the proxy had acknowledged`);
      assert.match(r.stdout, new RegExp(`version ${version + 1}, `));
      assert.match(r.stdout, new RegExp(`^slow-3\\s+test\\s+-\\s+SOTW\\s+${version + 1}\\s+SYNCED`, 'm'));
    } finally {
      c.close();
    }
  });

  it('status --wait fails at its timeout, saying who is behind and why', async () => {
    const c = new HeldClient(cp.xdsPort, 'stuck-1');
    c.hold();
    c.start(TypeUrl.Cluster, TypeUrl.Listener);
    try {
      await waitFor('connected', async () => (await types('stuck-1')).CDS !== undefined);
      const r = await status(cp.adminPort, '--wait', '--timeout', '1s');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not every proxy is SYNCED after 1s/);
      assert.match(r.stdout, /stuck-1 CDS PENDING: /);
      assert.match(r.stdout, /stuck-1 LDS STALE: make-before-break: waiting for the proxy to acknowledge the current clusters \(CDS\)/);
    } finally {
      c.close();
    }
  });

  it('status --wait fails on a NACK at once, with the proxy’s message', async () => {
    const c = new HeldClient(cp.xdsPort, 'picky-1', { nack: TypeUrl.Cluster });
    c.start(TypeUrl.Cluster);
    try {
      await waitFor('NACKED', async () => (await types('picky-1')).CDS?.state === 'NACKED');
      const r = await status(cp.adminPort, '--wait', '--timeout', '20s');
      assert.equal(r.code, 1);
      assert.ok(r.ms < 10_000);
      assert.match(r.stdout, /picky-1 CDS NACKED: rejected for the test/);
      assert.match(r.stderr, /NACKED/);
    } finally {
      c.close();
    }
  });

  it('a rejected edit heads the status until a later edit is accepted', async () => {
    const version = cp.controlPlane.cache.configVersion;
    await cp.edit(CONFIG('c', front).replace('cluster: c }', 'cluster: ghost }'));
    await waitFor('rejected', () => cp.controlPlane.lastRejected !== undefined);
    const r = await status(cp.adminPort);
    assert.match(r.stdout, new RegExp(`last rejected edit \\(.*\\), still serving version ${version}:\\n  .*unknown cluster "ghost"`));
    await cp.edit(CONFIG('c', front));
    await waitFor('accepted', () => cp.controlPlane.cache.configVersion === version + 1);
    const after = await status(cp.adminPort);
    assert.doesNotMatch(after.stdout, /last rejected edit/);
  });

  it('status --wait fails at once after a rejected edit (it will never roll out), saying so; plain status shows it and exits 0 while every proxy is SYNCED', async () => {
    const c = new HeldClient(cp.xdsPort, 'after-reject-1');
    c.start(TypeUrl.Cluster);
    try {
      await waitFor('SYNCED', async () => (await types('after-reject-1')).CDS?.state === 'SYNCED');
      const rejectedBefore = cp.controlPlane.lastRejected;
      await cp.edit(CONFIG('e', front).replace('cluster: e }', 'cluster: nowhere }'));
      await waitFor('rejected', () => cp.controlPlane.lastRejected !== rejectedBefore);
      const r = await status(cp.adminPort, '--wait', '--timeout', '20s');
      assert.equal(r.code, 1, r.stdout);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      assert.match(r.stderr, new RegExp(`the last edit was rejected: it will not roll out \\(version ${cp.controlPlane.cache.configVersion} keeps being served\\)`));
      assert.match(r.stdout, /last rejected edit .*\n  .*unknown cluster "nowhere"/);
      const plain = await status(cp.adminPort);
      assert.equal(plain.code, 0, plain.stdout);
      assert.match(plain.stdout, /last rejected edit/);
    } finally {
      c.close();
    }
  });

  it('undoing a rejected edit (the file back to exactly the text being served) settles it: no longer the headline, the version unchanged', async () => {
    const good = CONFIG('d', front);
    const version = cp.controlPlane.cache.configVersion;
    await cp.edit(good);
    await waitFor('accepted', () => cp.controlPlane.cache.configVersion === version + 1);
    const rejectedBefore = cp.controlPlane.lastRejected;
    await cp.edit(good.replace('cluster: d }', 'cluster: ghost }'));
    await waitFor('rejected', () => cp.controlPlane.lastRejected !== rejectedBefore);
    const read = async () => (await (await fetch(`http://127.0.0.1:${cp.adminPort}/status`)).json()) as { configVersion: number; rejectedSinceAccepted: boolean; lastAccepted: { reason: string } };
    assert.equal((await read()).rejectedSinceAccepted, true);
    assert.match((await status(cp.adminPort)).stdout, /last rejected edit/);
    await cp.edit(good);
    await waitFor('settled', async () => !(await read()).rejectedSinceAccepted);
    const s = await read();
    assert.equal(s.configVersion, version + 1, 'the same config: nothing new is published');
    assert.equal(s.lastAccepted.reason, 'file changed: back to the config being served');
    assert.doesNotMatch((await status(cp.adminPort)).stdout, /last rejected edit/);
  });

  it('usage: --timeout needs --wait and a duration', async () => {
    assert.equal((await status(cp.adminPort, '--timeout', '5s')).code, 2);
    assert.equal((await status(cp.adminPort, '--wait', '--timeout', 'soon')).code, 2);
  });
});

describe('the built-in data plane in status', () => {
  let cp: TestControlPlane;
  let taken: Server;
  let takenPort = 0;
  let front = 0;
  before(async () => {
    front = await freePort();
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    takenPort = (taken.address() as { port: number }).port;
    cp = await startControlPlane(CONFIG('a', front), { dataPlane: 'builtin' });
  });
  after(async () => {
    await cp.stop();
    taken.close();
  });

  type Builtin = { protocol: string; synced: boolean; ackedConfigVersion: number | null; types: Record<string, { state: string; reason?: string; ackedVersion?: string }> };
  const builtin = async (): Promise<Builtin> => {
    const s = (await (await fetch(`http://127.0.0.1:${cp.adminPort}/status`)).json()) as { proxies: Array<Builtin & { nodeId: string }> };
    return s.proxies.find((p) => p.nodeId === 'builtin')!;
  };

  it('shows like any proxy, SYNCED on the applied version', async () => {
    const p = await builtin();
    assert.equal(p.protocol, 'builtin');
    assert.equal(p.ackedConfigVersion, cp.controlPlane.cache.configVersion);
    assert.match((await status(cp.adminPort)).stdout, new RegExp(`^builtin\\s+\\S+\\s+\\S+\\s+BUILTIN\\s+${cp.controlPlane.cache.configVersion}\\s+SYNCED`, 'm'));
    assert.deepEqual(Object.keys(p.types).sort(), ['CDS', 'EDS', 'LDS', 'RDS', 'RTDS']);
    assert.ok(Object.values(p.types).every((t) => t.state === 'SYNCED'));
    assert.equal((await fetch(`http://127.0.0.1:${cp.adminPort}/readyz`)).status, 200);
  });

  it('a listener it cannot bind: NACKED with the reason, /readyz not ready; the next good edit recovers', async () => {
    const applied = cp.controlPlane.cache.configVersion;
    await cp.edit(CONFIG('a', takenPort));
    await waitFor('NACKED', async () => (await builtin()).types.LDS?.state === 'NACKED');
    assert.equal((await builtin()).ackedConfigVersion, applied, 'it keeps the version it applied');
    assert.match((await builtin()).types.LDS!.reason!, /EADDRINUSE|address already in use|bind/i);
    const ready = await fetch(`http://127.0.0.1:${cp.adminPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /built-in data plane refused config version \d+: .*(EADDRINUSE|in use|bind)/i);
    assert.equal((await status(cp.adminPort)).code, 1);
    await cp.edit(CONFIG('a', front));
    await waitFor('SYNCED again', async () => (await builtin()).synced);
    assert.equal((await fetch(`http://127.0.0.1:${cp.adminPort}/readyz`)).status, 200);
  });
});
