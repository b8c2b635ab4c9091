// `--config etcd://HOST:PORT[,HOST:PORT…]/KEY` as the commands read it: the endpoints and the key,
// every mistake a clear message (exit 2 with the usage from the CLI); and If-Match as the sources
// compare it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ifMatchHolds } from '../src/config/config-source.js';
import { EtcdUrlError, isEtcdUrl, parseEtcdUrl } from '../src/config/etcd-url.js';
import { REPO_ROOT } from './helpers/repo.js';

const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('etcd:// URLs', () => {
  it('name the endpoints and the key, the key being the path with its leading /', () => {
    const cases: Array<[string, string[], string]> = [
      ['etcd://127.0.0.1:2379/shadowplane/config', ['127.0.0.1:2379'], '/shadowplane/config'],
      ['etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/sp', ['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379'], '/sp'],
      ['etcd://etcd-0.etcd:2379,[::1]:2379/a/b/', ['etcd-0.etcd:2379', '::1:2379'], '/a/b/'],
      ['ETCD://etcd:2379//double', ['etcd:2379'], '//double'],
    ];
    for (const [url, endpoints, key] of cases) {
      const l = parseEtcdUrl(url);
      assert.deepEqual(
        l.endpoints.map((e) => `${e.host}:${e.port}`),
        endpoints,
        url,
      );
      assert.equal(l.key, key, url);
      assert.equal(l.url, url);
    }
  });

  it('refuse what cannot be used, each with its reason and what to write', () => {
    const hint = ' (write etcd://HOST:PORT[,HOST:PORT…]/KEY)';
    const cases: Array<[string, string]> = [
      ['etcd://', 'etcd://: no etcd endpoint'],
      ['etcd:///key', 'etcd:///key: no etcd endpoint'],
      ['etcd://127.0.0.1:2379', 'etcd://127.0.0.1:2379: no key after the endpoints'],
      ['etcd://127.0.0.1:2379/', 'etcd://127.0.0.1:2379/: no key after the endpoints'],
      ['etcd://etcd/key', 'etcd://etcd/key: endpoint "etcd" is not HOST:PORT'],
      ['etcd://a:2379,,b:2379/k', 'etcd://a:2379,,b:2379/k: endpoint "" is not HOST:PORT'],
      ['etcd://a:99999/k', 'etcd://a:99999/k: endpoint "a:99999" is not HOST:PORT'],
      ['etcd://a:1,a:1/k', 'etcd://a:1,a:1/k: endpoint a:1 is named twice'],
      ['etcd://user:pw@a:1/k', 'etcd://user:pw@a:1/k: user names and passwords are not supported'],
      ['etcd://a:1/k?x=1', 'etcd://a:1/k?x=1: a query or fragment (? or #) is not part of an etcd key'],
      ['http://a:1/k', 'http://a:1/k: not an etcd:// URL'],
    ];
    for (const [url, message] of cases) {
      assert.throws(() => parseEtcdUrl(url), (e: unknown) => e instanceof EtcdUrlError && e.message === `${message}${hint}`, url);
    }
  });

  it('only etcd:// names a store; anything else is a path', () => {
    assert.ok(isEtcdUrl('etcd://a:1/k'));
    assert.ok(!isEtcdUrl('configs/sandbox.yaml'));
    assert.ok(!isEtcdUrl('etcd.yaml'));
    assert.ok(!isEtcdUrl('./etcd://x'));
  });

  it('a bad URL is a usage error: one line naming it, the usage, exit 2', () => {
    for (const args of [
      ['serve', '--config', 'etcd://etcd/key', '--xds', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      ['get', '--config', 'etcd://etcd/key'],
      ['apply', 'configs/sandbox.yaml', '--config', 'etcd://etcd/key'],
    ]) {
      const r = cli(...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /^shadowplane: --config etcd:\/\/etcd\/key: endpoint "etcd" is not HOST:PORT \(write etcd:\/\/HOST:PORT\[,HOST:PORT…\]\/KEY\)\nusage:/);
    }
    assert.match(cli('get').stderr, /^shadowplane: get needs --config etcd:\/\/HOST:PORT\[,HOST:PORT…\]\/KEY \(or a FILE\)\n/);
    assert.match(cli('apply', '--config', 'etcd://a:1/k').stderr, /^shadowplane: apply takes exactly one FILE\n/);
    assert.match(cli('get', 'x', '--config', 'etcd://a:1/k').stderr, /^shadowplane: get takes no positional arguments \(got "x"\)\n/);
  });
});

describe('If-Match', () => {
  const stored = { text: 'x', etag: '"17"', revision: 17 };
  it('holds for the stored tag, quoted or bare, for * when anything is stored, and for one of a list; never for a weak tag', () => {
    const cases: Array<[string, typeof stored | undefined, boolean]> = [
      ['"17"', stored, true],
      ['17', stored, true],
      ['"16"', stored, false],
      ['*', stored, true],
      ['*', undefined, false],
      ['"17"', undefined, false],
      ['"3", "17"', stored, true],
      ['W/"17"', stored, false],
    ];
    for (const [header, s, holds] of cases) assert.equal(ifMatchHolds(header, s), holds, `${header} against ${s?.etag ?? 'nothing'}`);
  });
});
