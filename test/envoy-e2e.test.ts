// Seed 000's walkthrough through a real Envoy that runs the compiled resources: the client gets the
// primary's answer, mirrors arrive with Host "<host>-shadow:<port>", and the x-mirror-cluster allowlist
// is enforced by Envoy itself. Plus the Envoy-1.36 mirror fields (header mutations, host rewrite).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDocument } from '../src/envoy-api/document-format.js';
import { parseConfig } from '../src/config/load.js';
import { buildModel } from '../src/model/build.js';
import { translate } from '../src/translate/resources.js';
import { findEnvoy, startEnvoy, type RunningEnvoy } from '../src/sandbox/envoy-process.js';
import { sleep } from '../src/sandbox/wait.js';
import { requireEnvoy } from './helpers/envoy.js';
import { writeFileXds } from './helpers/file-xds.js';
import { httpGet, type SimpleResponse } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { startRecordingBackend, type RecordingBackend } from './helpers/recording-backend.js';

const NAMES = ['service1', 'service1-mirror', 'service2', 'service2-mirror', 'service3', 'service3-mirror'] as const;
type Name = (typeof NAMES)[number];

function configText(frontPort: number, ports: Record<Name, number>): string {
  return `
listeners:
  - name: front
    address: 127.0.0.1:${frontPort}
    virtual_hosts:
      - name: backend
        domains: ["*"]
        routes:
          - name: service1
            match: { prefix: /service/1 }
            cluster: service1
            mirrors: [{ cluster: service1-mirror }]
          - name: service2
            match: { prefix: /service/2 }
            cluster: service2
            mirrors:
              - cluster_header: x-mirror-cluster
                allowed_clusters: [service2-mirror]
          - name: service3
            match: { prefix: /service/3 }
            cluster: service3
            mirrors:
              - cluster: service3-mirror
                shadow_host_suffix: false
                host_rewrite: shadow.example
                headers:
                  set: { x-shadowplane-mirror: "1" }
                  remove: [x-secret]
clusters:
${NAMES.map((n) => `  - { name: ${n}, endpoints: ["127.0.0.1:${ports[n]}"], connect_timeout: 0.25s }`).join('\n')}
`;
}

describe('compiled resources in real Envoy (seed 000)', () => {
  const backends = {} as Record<Name, RecordingBackend>;
  let envoy: RunningEnvoy | undefined;
  let dir = '';
  let front = 0;

  before(async () => {
    if (!findEnvoy()) return;
    for (const n of NAMES) backends[n] = await startRecordingBackend(n);
    front = await freePort();
    const ports = Object.fromEntries(NAMES.map((n) => [n, backends[n].port])) as Record<Name, number>;
    const loaded = parseConfig(configText(front, ports), 'e2e.yaml');
    assert.ok(loaded.ok, JSON.stringify(loaded));
    dir = await mkdtemp(path.join(tmpdir(), 'shadowplane-e2e-'));
    const admin = await freePort();
    const bootstrap = await writeFileXds(translate(buildModel(loaded.config)), dir, admin);
    const file = path.join(dir, 'bootstrap.yaml');
    await writeFile(file, formatDocument(bootstrap, 'yaml'));
    envoy = await startEnvoy(findEnvoy()!, { bootstrapFile: file, adminPort: admin, baseId: 11 });
  });

  after(async () => {
    await envoy?.stop();
    for (const b of Object.values(backends)) await b.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = (p: string, headers: Record<string, string> = {}): Promise<SimpleResponse> =>
    httpGet(front, p, { host: `localhost:${front}`, ...headers });

  /** Mirrors are fire-and-forget: give an absent copy time to show up before asserting it did not. */
  const settle = (): Promise<void> => sleep(300);

  it('step 2–3: /service/1 answers from service1 and is mirrored with Host localhost-shadow:<port>', async (t) => {
    if (!requireEnvoy(t)) return;
    const res = await get('/service/1');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Hello from behind shadowplane (service1)!\n');
    await backends['service1-mirror'].waitFor(1);
    assert.equal(backends.service1.received.at(-1)!.host, `localhost:${front}`);
    assert.equal(backends['service1-mirror'].received.at(-1)!.host, `localhost-shadow:${front}`);
    assert.equal(backends['service1-mirror'].received.at(-1)!.path, '/service/1');
  });

  it('step 4–5: x-mirror-cluster: service2-mirror mirrors /service/2', async (t) => {
    if (!requireEnvoy(t)) return;
    const res = await get('/service/2', { 'x-mirror-cluster': 'service2-mirror' });
    assert.equal(res.body, 'Hello from behind shadowplane (service2)!\n');
    await backends['service2-mirror'].waitFor(1);
    assert.equal(backends['service2-mirror'].received.at(-1)!.host, `localhost-shadow:${front}`);
  });

  it('step 6: no header, an unknown cluster, or a cluster outside the allowlist → not mirrored', async (t) => {
    if (!requireEnvoy(t)) return;
    const mirroredBefore = backends['service2-mirror'].received.length;
    const otherMirrorsBefore = backends['service1-mirror'].received.length;
    const primaryBefore = backends.service2.received.length;
    const variants: Array<Record<string, string>> = [{}, { 'x-mirror-cluster': 'service2-mirror-non-existent' }, { 'x-mirror-cluster': 'service1-mirror' }];
    for (const headers of variants) {
      const res = await get('/service/2', headers);
      assert.equal(res.body, 'Hello from behind shadowplane (service2)!\n');
    }
    await settle();
    assert.equal(backends.service2.received.length, primaryBefore + 3);
    assert.equal(backends['service2-mirror'].received.length, mirroredBefore);
    // service1-mirror exists, but the allowlist of /service/2 does not name it.
    assert.equal(backends['service1-mirror'].received.length, otherMirrorsBefore);
  });

  it('a repeated x-mirror-cluster header cannot smuggle a cluster outside the allowlist', async (t) => {
    if (!requireEnvoy(t)) return;
    const allowed = backends['service2-mirror'].received.length;
    const other = backends['service1-mirror'].received.length;
    // Envoy matches a header condition on any value, but cluster_header would take the first one.
    const res = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: front, path: '/service/2', agent: false, headers: ['host', `localhost:${front}`, 'x-mirror-cluster', 'service1-mirror', 'x-mirror-cluster', 'service2-mirror'] }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res, 200);
    await backends['service2-mirror'].waitFor(allowed + 1);
    await settle();
    assert.equal(backends['service1-mirror'].received.length, other, 'the copy went to a cluster outside the allowlist');
    assert.equal(backends['service2-mirror'].received.at(-1)!.headers['x-mirror-cluster'], 'service1-mirror, service2-mirror', 'both values were sent');
  });

  it('Envoy ≥ 1.36 mirror fields: host rewrite, no -shadow suffix, header set and remove on the copy only', async (t) => {
    if (!requireEnvoy(t)) return;
    await get('/service/3', { 'x-secret': 'token' });
    await backends['service3-mirror'].waitFor(1);
    const copy = backends['service3-mirror'].received.at(-1)!;
    const original = backends.service3.received.at(-1)!;
    assert.equal(copy.host, 'shadow.example');
    assert.equal(copy.headers['x-shadowplane-mirror'], '1');
    assert.equal(copy.headers['x-secret'], undefined);
    assert.equal(original.host, `localhost:${front}`);
    assert.equal(original.headers['x-secret'], 'token');
    assert.equal(original.headers['x-shadowplane-mirror'], undefined);
  });
});
