// `serve --config etcd://…` against a real 3-member etcd cluster on loopback (Debian's etcd-server):
// every value of the key validated exactly as a file is, the last good config kept over invalid
// values, a deleted key and a store that is down; GET and guarded PUT /config; a replica cut off from
// its member replaying, when it returns, every edit it missed in order; a replica started with
// nothing stored or no etcd at all; `shadowplane get` / `shadowplane apply` against the key; two
// concurrent first writes to an empty key (apply, and PUT /config with If-None-Match: *), of which
// exactly one wins; and a watch whose start revision etcd compacted away, cancelled and started anew.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdConfigSource } from '../src/config/etcd-config-source.js';
import { parseEtcdUrl } from '../src/config/etcd-url.js';
import { writeGuarded, type GuardedWriteOutcome } from '../src/config/guarded-write.js';
import { loadConfigFile } from '../src/config/load.js';
import { formatProblem } from '../src/config/problems.js';
import { EtcdCluster, findEtcd } from '../src/sandbox/etcd-process.js';
import { waitFor } from '../src/sandbox/wait.js';
import { startServer, type RunningServer } from '../src/server/serve-process.js';
import { EtcdStore, type KeyWatch, type WatchHandlers } from '../src/store/etcd-store.js';
import { startControlPlane } from './helpers/control-plane.js';
import { requireEtcd } from './helpers/etcd.js';
import { REPO_ROOT } from './helpers/repo.js';

const CONFIG = (cluster: string): string => `listeners:
  - name: front
    address: 127.0.0.1:1
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ name: r, match: { prefix: / }, cluster: ${cluster} }] }]
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
  - { name: b, endpoints: ["127.0.0.1:2"] }
`;
const TOKEN = 'etcd-token';

describe('the config in etcd', () => {
  let dir = '';
  let etcd: EtcdCluster | undefined;
  let store: EtcdStore;
  const servers: RunningServer[] = [];
  let keys = 0;

  before(async () => {
    const bin = findEtcd();
    if (!bin) return;
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-etcd-'));
    etcd = await EtcdCluster.start(bin, { dir, size: 3 });
    store = await EtcdStore.open(etcd.endpoints);
  });
  after(async () => {
    for (const s of servers) await s.close();
    store?.close();
    await etcd?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const serve = async (url: string): Promise<RunningServer> => {
    const s = await startServer({ configFile: url, xds: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, adminToken: TOKEN, watch: true }, pino({ level: process.env.SHADOWPLANE_TEST_LOG ?? 'silent' }));
    assert.ok(s, 'an etcd source always starts');
    servers.push(s);
    return s;
  };
  const admin = (s: RunningServer): string => `http://127.0.0.1:${s.adminPort}`;
  const newKey = (): string => `/shadowplane/test-${++keys}`;
  const clusterServed = (s: RunningServer): string | undefined => {
    const primary = s.controlPlane.model?.listeners[0]?.virtualHosts[0]?.routes[0]?.primary;
    return primary?.kind === 'cluster' ? primary.cluster : undefined;
  };
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

  it('every value of the key is validated as a file is: an invalid one is rejected whole with the same messages, and the last good one keeps being served', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const url = etcd!.url(key);
    const good = await store.put(key, CONFIG('a'));
    assert.ok(good.written);
    const s = await serve(url);
    assert.equal(s.controlPlane.cache.configVersion, good.revision, 'the version is the key\'s mod revision');
    assert.equal(clusterServed(s), 'a');
    assert.equal((await fetch(`${admin(s)}/readyz`)).status, 200);

    const invalid = CONFIG('ghost').replace('address: 127.0.0.1:1', 'address: nowhere');
    const bad = await store.put(key, invalid);
    assert.ok(bad.written);
    await waitFor('the invalid value rejected', () => s.controlPlane.lastRejected !== undefined);
    // The messages `validate` prints for the same text in a file, with the URL in the file's place.
    const file = path.join(dir, 'same.yaml');
    await writeFile(file, invalid);
    const asFile = await loadConfigFile(file);
    assert.ok(!asFile.ok);
    assert.deepEqual(s.controlPlane.lastRejected!.problems, asFile.problems.map((p) => formatProblem({ ...p, file: url })));
    assert.match(s.controlPlane.lastRejected!.problems.join('\n'), /address: .*\[SP009\][\s\S]*unknown cluster "ghost" \[SP003\]/);
    assert.equal(s.controlPlane.lastRejected!.reason, `etcd revision ${bad.revision}`);
    assert.equal(s.controlPlane.cache.configVersion, good.revision);
    assert.equal(clusterServed(s), 'a');
    const status = (await (await fetch(`${admin(s)}/status`)).json()) as { configVersion: number; rejectedSinceAccepted: boolean; source: { kind: string; key: string; revision: number; store: { state: string } } };
    assert.deepEqual([status.configVersion, status.rejectedSinceAccepted, status.source.kind, status.source.key, status.source.revision, status.source.store.state], [good.revision, true, 'etcd', key, bad.revision, 'up']);

    await store.put(key, CONFIG('b'));
    await waitFor('the next good value served', () => clusterServed(s) === 'b');
  });

  it('GET /config is the stored YAML with its revision as ETag; PUT /config writes through, guarded by If-Match; an invalid body writes nothing', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const s = await serve(etcd!.url(key));
    assert.equal((await fetch(`${admin(s)}/readyz`)).status, 503, 'nothing stored yet: not ready');
    assert.match(s.controlPlane.lastRejected!.problems[0]!, /: no config is stored at the key \/shadowplane\/test-\d+: write one with shadowplane apply FILE --config etcd:\/\/.*, or PUT \/config \[SP201\]$/);
    const missing = await fetch(`${admin(s)}/config`);
    assert.equal(missing.status, 404);
    const put = (body: string, ifMatch?: string) => fetch(`${admin(s)}/config`, { method: 'PUT', body, headers: { authorization: `Bearer ${TOKEN}`, ...(ifMatch ? { 'if-match': ifMatch } : {}) } });

    const first = await put(CONFIG('a'));
    assert.equal(first.status, 200, await first.clone().text());
    const { revision, configVersion } = (await first.json()) as { revision: number; configVersion: number };
    assert.equal(configVersion, revision, 'applied here at once');
    assert.equal((await fetch(`${admin(s)}/readyz`)).status, 200);
    const got = await fetch(`${admin(s)}/config`);
    assert.equal(got.headers.get('etag'), `"${revision}"`);
    assert.equal(await got.text(), CONFIG('a'));
    assert.equal((await store.get(key)).kv?.value, CONFIG('a'));

    const invalid = await put(CONFIG('ghost'), `"${revision}"`);
    assert.equal(invalid.status, 422);
    assert.match(((await invalid.json()) as { problems: string[] }).problems[0]!, /^PUT \/config body:4:\d+ .*unknown cluster "ghost" \[SP003\]$/);
    assert.equal((await store.get(key)).kv?.modRevision, revision, 'nothing was written');

    const stale = await put(CONFIG('b'), `"${revision - 1}"`);
    assert.equal(stale.status, 409);
    assert.equal(stale.headers.get('etag'), `"${revision}"`);
    assert.equal(((await stale.json()) as { revision: number }).revision, revision);
    const next = await put(CONFIG('b'), String(revision));
    assert.equal(next.status, 200, 'a bare revision is taken as the tag');
    assert.equal(clusterServed(s), 'b');
  });

  it('a replica cut off from its etcd member replays, when it returns, every edit it missed in order: a valid edit then an invalid one leave the valid one served', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    await store.put(key, CONFIG('a'));
    // Only member 0: its watch and its reads go there.
    const only0 = `etcd://${etcd!.members[0]!.endpoint}${key}`;
    const s = await serve(only0);
    assert.equal(clusterServed(s), 'a');
    await etcd!.stopMember(0, 'SIGKILL');
    try {
      await waitFor('the store seen down', () => s.controlPlane.source.status().store?.state === 'down', 10_000);
      const valid = await store.put(key, CONFIG('b'));
      const invalid = await store.put(key, CONFIG('ghost'));
      assert.ok(valid.written && invalid.written);
      assert.equal(clusterServed(s), 'a');
      const res = await fetch(`${admin(s)}/config`, { method: 'PUT', body: CONFIG('a'), headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 503);
      assert.equal((await fetch(`${admin(s)}/readyz`)).status, 200);
      await etcd!.startMember(0);
      await waitFor('the invalid edit seen', () => s.controlPlane.lastRejected?.reason === `etcd revision ${invalid.revision}`, 15_000);
      assert.equal(s.controlPlane.lastAccepted?.configVersion, valid.revision, 'the valid edit before it was applied');
      assert.equal(clusterServed(s), 'b');
      assert.equal(s.controlPlane.source.status().revision, invalid.revision);
      await waitFor('the store seen up', () => s.controlPlane.source.status().store?.state === 'up', 10_000);
    } finally {
      await etcd!.startMember(0);
    }
  });

  it('a deleted key keeps the last good config served, and says so', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const { revision } = (await store.put(key, CONFIG('a'))) as { revision: number };
    const s = await serve(etcd!.url(key));
    assert.equal(s.controlPlane.cache.configVersion, revision);
    const client = new Etcd3({ hosts: etcd!.endpoints });
    await client.delete().key(key).exec();
    client.close();
    await waitFor('the deletion reported', () => s.controlPlane.lastRejected !== undefined, 10_000);
    assert.match(s.controlPlane.lastRejected!.problems[0]!, /: the key \/shadowplane\/test-\d+ was deleted \(etcd revision \d+\); the last good config keeps being served \[SP201\]$/);
    assert.equal(s.controlPlane.cache.configVersion, revision);
    assert.equal(clusterServed(s), 'a');
    assert.equal((await fetch(`${admin(s)}/config`)).status, 404);
  });

  it('a replica started while etcd is down serves nothing until etcd answers, then what is stored', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    await store.put(key, CONFIG('b'));
    await etcd!.stopAll('SIGKILL');
    let s: RunningServer;
    try {
      s = await serve(etcd!.url(key));
      assert.equal((await fetch(`${admin(s)}/readyz`)).status, 503);
      assert.equal(s.controlPlane.source.status().store?.state, 'down');
    } finally {
      await etcd!.startAll();
    }
    await waitFor('served once etcd answers', () => clusterServed(s) === 'b', 20_000);
    assert.equal((await fetch(`${admin(s)}/readyz`)).status, 200);
  });

  it('`shadowplane get` prints the stored config and its revision; `apply` validates first and writes guarded', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const url = etcd!.url(key);
    const empty = cli('get', '--config', url);
    assert.equal(empty.status, 1);
    assert.equal(empty.stderr, `shadowplane: no config is stored at the key ${key} of ${url}\n`);

    const file = path.join(dir, 'apply.yaml');
    await writeFile(file, CONFIG('a'));
    const applied = cli('apply', file, '--config', url);
    assert.equal(applied.status, 0, applied.stderr);
    const revision = (await store.get(key)).kv!.modRevision;
    assert.equal(applied.stdout, `${file}: applied to ${url} as revision ${revision}\n`);
    const got = cli('get', '--config', url);
    assert.equal(got.status, 0);
    assert.equal(got.stdout, CONFIG('a'));
    assert.equal(got.stderr, `revision ${revision}\n`);
    assert.equal(cli('apply', file, '--config', url).stdout, `${file}: unchanged (${url} revision ${revision})\n`);

    await writeFile(file, CONFIG('ghost'));
    const invalid = cli('apply', file, '--config', url);
    assert.equal(invalid.status, 1);
    assert.match(invalid.stderr, new RegExp(`^${file}:4:\\d+ .*unknown cluster "ghost" \\[SP003\\]\\n[^]*${file}: rejected; nothing was written to ${url.replace(/[.]/g, '\\.')}\\n$`));
    assert.equal((await store.get(key)).kv!.modRevision, revision);

    await writeFile(file, CONFIG('b'));
    const stale = cli('apply', file, '--config', url, '--if-match', String(revision - 1));
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, new RegExp(`changed \\(it is now revision ${revision}\\), not ${revision - 1}; nothing was written`));
    assert.equal(cli('apply', file, '--config', url, '--if-match', String(revision)).status, 0);
    assert.equal((await store.get(key)).kv!.value, CONFIG('b'));

    const down = cli('get', '--config', 'etcd://127.0.0.1:1/x');
    assert.equal(down.status, 1);
    assert.equal(down.stderr, 'shadowplane: the config store cannot be reached: etcd (127.0.0.1:1) did not answer: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  it('two concurrent first `apply`s to an empty key: exactly one writes, the other finds the revision that won (the guard apply writes with)', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const url = etcd!.url(key);
    const texts = [CONFIG('a'), CONFIG('b')];
    // Both read the empty key before either writes: each one's first read waits for the other's.
    const get = EtcdStore.prototype.get;
    const waiting: Array<() => void> = [];
    EtcdStore.prototype.get = async function (this: EtcdStore, k: string) {
      const r = await get.call(this, k);
      if (k === key && waiting.length < 2) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 2) for (const go of waiting) go();
        });
      }
      return r;
    };
    const sources = texts.map(() => new EtcdConfigSource(parseEtcdUrl(url), () => []));
    let runs: GuardedWriteOutcome[];
    try {
      runs = await Promise.all(texts.map((text, i) => writeGuarded(sources[i]!, { text, reason: 'shadowplane apply', origin: `first-${i}.yaml` })));
    } finally {
      EtcdStore.prototype.get = get;
      for (const s of sources) await s.close();
    }
    assert.equal(waiting.length, 2, 'both read the key while it was empty');
    const outcomes = runs.map((r) => (r.kind === 'wrote' ? r : assert.fail(`not written: ${JSON.stringify(r)}`)));
    // Both were guarded by "nothing stored yet", and exactly one held.
    assert.deepEqual(outcomes.map((r) => r.ifNoneMatch), ['*', '*']);
    assert.deepEqual(outcomes.map((r) => r.outcome.kind).sort(), ['conflict', 'written']);
    const winner = outcomes.findIndex((r) => r.outcome.kind === 'written');
    const stored = (await store.get(key)).kv!;
    assert.equal(stored.value, texts[winner], "the winner's config is stored");
    const won = outcomes[winner]!.outcome;
    const lost = outcomes[1 - winner]!.outcome;
    assert.equal(won.kind === 'written' && won.revision, stored.modRevision);
    assert.equal(lost.kind === 'conflict' && lost.current?.revision, stored.modRevision, 'the loser learns the revision that won');
  });

  it('PUT /config with If-None-Match: * creates the key only while it holds nothing: of two concurrent ones exactly one wins, the other gets 409 with the revision; without a precondition a PUT writes unconditionally', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const s = await serve(etcd!.url(key));
    const put = (body: string, headers: Record<string, string> = {}) => fetch(`${admin(s)}/config`, { method: 'PUT', body, headers: { authorization: `Bearer ${TOKEN}`, ...headers } });

    const both = await Promise.all([put(CONFIG('a'), { 'if-none-match': '*' }), put(CONFIG('b'), { 'if-none-match': '*' })]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 409]);
    const won = both.findIndex((r) => r.status === 200);
    const { revision } = (await both[won]!.json()) as { revision: number };
    const conflict = both[1 - won]!;
    assert.equal(conflict.headers.get('etag'), `"${revision}"`);
    const body = (await conflict.json()) as { error: string; etag: string; revision: number };
    assert.deepEqual([body.etag, body.revision], [`"${revision}"`, revision]);
    assert.match(body.error, new RegExp(`^If-None-Match \\* does not hold: the stored config changed \\(it is now revision ${revision}\\); nothing was written`));
    assert.equal((await store.get(key)).kv!.value, CONFIG(won === 0 ? 'a' : 'b'));
    assert.equal(clusterServed(s), won === 0 ? 'a' : 'b');

    // Once the key holds a config, If-None-Match: * (or the stored tag) never writes; another tag does.
    assert.equal((await put(CONFIG('a'), { 'if-none-match': '*' })).status, 409);
    assert.equal((await put(CONFIG('a'), { 'if-none-match': `"${revision}"` })).status, 409);
    assert.equal((await store.get(key)).kv!.modRevision, revision, 'nothing was written');
    const other = await put(CONFIG('a'), { 'if-none-match': `"${revision - 1}"` });
    assert.equal(other.status, 200, await other.clone().text());
    // No precondition: written whatever is stored (HTTP's rule; the README says to send If-Match).
    const unguarded = await put(CONFIG('b'));
    assert.equal(unguarded.status, 200);
    assert.equal((await store.get(key)).kv!.value, CONFIG('b'));
  });

  it('If-None-Match on a file source, which cannot honour it, is refused with 400 and nothing is written', async () => {
    const cp = await startControlPlane(CONFIG('a'), { token: TOKEN });
    try {
      const res = await fetch(`http://127.0.0.1:${cp.adminPort}/config`, { method: 'PUT', body: CONFIG('b'), headers: { authorization: `Bearer ${TOKEN}`, 'if-none-match': '*' } });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /^If-None-Match is honoured only with a config in etcd/);
      assert.equal((await fetch(`http://127.0.0.1:${cp.adminPort}/config`)).status, 200);
      assert.equal(await (await fetch(`http://127.0.0.1:${cp.adminPort}/config`)).text(), CONFIG('a'));
    } finally {
      await cp.stop();
    }
  });

  // Last: the compaction drops the history of every key.
  it('a watch whose start revision etcd compacted away is cancelled; the key is read again and watched anew from there', async (t) => {
    if (!requireEtcd(t)) return;
    const key = newKey();
    const first = await store.put(key, CONFIG('a'));
    assert.ok(first.written);
    const watches: Array<{ from: number; cancelled: boolean }> = [];
    const watch = EtcdStore.prototype.watch;
    EtcdStore.prototype.watch = function (this: EtcdStore, k: string, from: number, h: WatchHandlers): KeyWatch {
      const w = watch.call(this, k, from, h);
      const seen = { from, cancelled: false };
      watches.push(seen);
      return {
        cancel: async () => {
          seen.cancelled = true;
          await w.cancel();
        },
      };
    };
    const accepted: number[] = [];
    const source = new EtcdConfigSource(parseEtcdUrl(etcd!.url(key)), () => [], {});
    source.on('accepted', (c) => accepted.push(c.revision!));
    const client = new Etcd3({ hosts: etcd!.endpoints });
    try {
      await source.start();
      assert.deepEqual(accepted, [first.revision]);
      // Edits made before the source watches, and then compacted away: its watch starts at a revision etcd no longer has.
      await store.put(key, CONFIG('b'));
      const last = await store.put(key, CONFIG('a'));
      assert.ok(last.written);
      await client.kv.compact({ revision: String(last.revision), physical: true });
      source.watch();
      await waitFor('the key read again after the watch ended', () => accepted.includes(last.revision), 10_000);
      await waitFor('a new watch', () => watches.length === 2, 10_000);
      assert.equal(watches[0]!.from, first.revision + 1);
      assert.ok(watches[0]!.cancelled, 'the ended watch was cancelled');
      assert.ok(watches[1]!.from > last.revision, `the new watch starts after the read (${watches[1]!.from})`);
      assert.ok(!watches[1]!.cancelled);
      const next = await store.put(key, CONFIG('b'));
      assert.ok(next.written);
      await waitFor('the next edit arrives through the new watch', () => accepted.includes(next.revision), 10_000);
      assert.equal(watches.length, 2);
    } finally {
      EtcdStore.prototype.watch = watch;
      client.close();
      await source.close();
    }
    assert.ok(watches[1]!.cancelled, 'close cancels the watch');
  });
});
