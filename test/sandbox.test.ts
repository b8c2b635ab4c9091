// The sandbox as a newcomer runs it: seed 000's walkthrough, step by step, with the built-in engine
// and with real Envoy as the front proxy, plus a hot edit; and the docker-compose topology checked
// against configs/sandbox.yaml and envoy/bootstrap.yaml.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { requireEnvoy } from './helpers/envoy.js';
import { httpGet } from './helpers/http-client.js';
import { REPO_ROOT } from './helpers/repo.js';
import { sleep, waitFor } from '../src/sandbox/wait.js';
import { startSandbox } from './helpers/sandbox-process.js';

const curl = (p: string, headers: Record<string, string> = {}) => httpGet(10000, p, { host: 'localhost:10000', ...headers });
const settle = (): Promise<void> => sleep(400);

const MODE_NAMES = { builtin: 'built-in engine', envoy: 'real Envoy', 'envoy-mtls': 'real Envoy over mutual TLS' } as const;

for (const mode of ['builtin', 'envoy', 'envoy-mtls'] as const) {
  describe(`sandbox walkthrough (${MODE_NAMES[mode]})`, () => {
    it('every printed curl behaves as printed, and a hot edit shows on the next request', async (t) => {
      if (mode !== 'builtin' && !requireEnvoy(t)) return;
      const sb = await startSandbox(mode);
      try {
        assert.match(sb.output(), /curl localhost:10000\/service\/1\n/);
        assert.match(sb.output(), /curl --header "x-mirror-cluster: service2-mirror" localhost:10000\/service\/2/);

        // Steps 2-3.
        let mark = sb.output().length;
        assert.equal((await curl('/service/1')).body, 'Hello from behind shadowplane (service 1)!\n');
        await waitFor('service1-mirror logged the copy', () => sb.logged('service1-mirror', mark).length >= 2);
        assert.deepEqual(sb.logged('service1', mark)[0], 'Host: localhost:10000');
        assert.deepEqual(sb.logged('service1-mirror', mark)[0], 'Host: localhost-shadow:10000');
        assert.match(sb.logged('service1-mirror', mark)[1]!, /"GET \/service\/1 HTTP\/1\.1" 200 -$/);

        // Steps 4-5.
        mark = sb.output().length;
        assert.equal((await curl('/service/2', { 'x-mirror-cluster': 'service2-mirror' })).body, 'Hello from behind shadowplane (service 2)!\n');
        await waitFor('service2-mirror logged the copy', () => sb.logged('service2-mirror', mark).length >= 2);
        assert.deepEqual(sb.logged('service2-mirror', mark)[0], 'Host: localhost-shadow:10000');

        // Step 6.
        mark = sb.output().length;
        assert.equal((await curl('/service/2')).body, 'Hello from behind shadowplane (service 2)!\n');
        assert.equal((await curl('/service/2', { 'x-mirror-cluster': 'service2-mirror-non-existent' })).body, 'Hello from behind shadowplane (service 2)!\n');
        await settle();
        assert.equal(sb.logged('service2', mark).filter((l) => l.startsWith('Host:')).length, 2);
        assert.deepEqual(sb.logged('service2-mirror', mark), []);

        // A hot edit: /service/1 is now mirrored to service2-mirror as well.
        const text = await readFile(sb.configFile, 'utf8');
        await writeFile(sb.configFile, text.replace('              - cluster: service1-mirror\n', '              - cluster: service1-mirror\n              - cluster: service2-mirror\n'));
        await waitFor('the edit is visible on the next request', async () => {
          mark = sb.output().length;
          await curl('/service/1');
          await settle();
          return sb.logged('service2-mirror', mark).some((l) => l.includes('GET /service/1'));
        }, 10_000);
        // The rollout check the banner tells users to run after each edit.
        const printed = /^\s+npx shadowplane (status --wait)\s/m.exec(sb.output());
        assert.ok(printed, sb.output());
        const check = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...printed[1]!.split(' ')], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
        assert.match(check.stdout, /sandbox-front\s.*SYNCED/);
      } finally {
        assert.equal(await sb.stop(), 0, sb.output());
      }
    });
  });
}

describe('sandbox --envoy --mtls', () => {
  it('runs Envoy over mutual TLS with certificates it made, and the impostor command it prints is refused', async (t) => {
    if (!requireEnvoy(t)) return;
    const sb = await startSandbox('envoy-mtls');
    let impostor: ChildProcess | undefined;
    try {
      const out = sb.output();
      assert.match(out, /front proxy: real Envoy, ADS over mutual TLS/);
      const dir = /a CA made for this run signed every certificate, in (\S+):/.exec(out)?.[1];
      assert.ok(dir, out);
      const bootstrap = parse(await readFile(path.join(dir, 'envoy-bootstrap.yaml'), 'utf8')) as { static_resources: { clusters: Array<{ transport_socket?: { typed_config: { common_tls_context: { tls_certificates: unknown[] } } } }> } };
      assert.equal(bootstrap.static_resources.clusters[0]!.transport_socket!.typed_config.common_tls_context.tls_certificates.length, 1, 'Envoy presents a client certificate');
      const status = async (): Promise<{ proxies: Array<{ nodeId: string; types: Record<string, { state: string }> }> }> => (await fetch('http://127.0.0.1:19000/status')).json() as never;
      await waitFor('the front Envoy is SYNCED', async () => (await status()).proxies.some((p) => p.nodeId === 'sandbox-front' && ['CDS', 'LDS', 'RDS', 'EDS'].every((k) => p.types[k]?.state === 'SYNCED')));

      // The printed impostor command, run as printed (node instead of npx).
      const printed = /npx shadowplane (proxy [^\n]*\\\n[^\n]*)/.exec(out)?.[1];
      assert.ok(printed, out);
      const args = printed.replace(/\\\n/, ' ').trim().split(/\s+/);
      impostor = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/shadowplane.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      impostor.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      impostor.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      await waitFor('the impostor is refused', () => /PERMISSION_DENIED|not an identity of the client certificate/.test(log), 15_000);
      const metrics = await (await fetch('http://127.0.0.1:19000/metrics')).text();
      assert.match(metrics, /^shadowplane_xds_identity_rejections_total\{protocol="sotw",reason="identity_mismatch"\} [1-9]\d*$/m);
      assert.equal((await status()).proxies.filter((p) => p.nodeId === 'sandbox-front').length, 1, 'only the real front proxy holds the node');
    } finally {
      impostor?.kill('SIGKILL');
      assert.equal(await sb.stop(), 0, sb.output());
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = async (): Promise<{ services: Record<string, { command?: string[]; ports?: string[]; volumes?: string[]; network_mode?: string; image?: string; profiles?: string[]; environment?: Record<string, string> }> }> =>
    parse(await readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'));

  it('is valid for docker-compose', (t) => {
    const r = spawnSync('docker-compose', ['-f', path.join(REPO_ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8' });
    if (r.error) {
      const why = 'docker-compose is not installed (Debian package docker-compose; .ci/run installs it)';
      if (process.env.CI) throw new Error(why);
      process.stderr.write(`\n*** SKIPPED: ${why} ***\n\n`);
      t.skip(why);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
  });

  it('matches configs/sandbox.yaml and envoy/bootstrap.yaml: services, ports and the xDS address', async () => {
    const c = await compose();
    const sandbox = parse(await readFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8')) as {
      listeners: Array<{ address: string }>;
      clusters: Array<{ name: string; endpoints: string[] }>;
    };
    const bootstrap = parse(await readFile(path.join(REPO_ROOT, 'envoy/bootstrap.yaml'), 'utf8')) as {
      static_resources: { clusters: Array<{ load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> } }> };
    };
    for (const cluster of sandbox.clusters) {
      const svc = c.services[cluster.name];
      assert.ok(svc, `no compose service for cluster ${cluster.name}`);
      const port = cluster.endpoints[0]!.split(':')[1];
      assert.deepEqual(svc.command, ['demo-backend', '--name', cluster.name, '--port', port]);
      assert.equal(svc.network_mode, 'service:shadowplane');
    }
    const listenerPort = sandbox.listeners[0]!.address.split(':')[1];
    assert.ok(c.services.shadowplane!.ports!.includes(`${listenerPort}:${listenerPort}`));
    const xds = bootstrap.static_resources.clusters[0]!.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
    const cmd = c.services.shadowplane!.command!;
    assert.equal(cmd[cmd.indexOf('--xds') + 1], `${xds.address}:${xds.port_value}`);
    const envoy = c.services['envoy-front-proxy']!;
    assert.match(envoy.image!, /^envoyproxy\/envoy:v1\.40/);
    assert.ok(envoy.volumes!.includes('./envoy/bootstrap.yaml:/etc/envoy/bootstrap.yaml:ro'));
    assert.equal(envoy.network_mode, 'service:shadowplane');
  });

  it('has a fleet profile: etcd, two replicas serving its key, a one-shot that writes the config, and a front Envoy bootstrapped with both replicas', async () => {
    const c = await compose();
    const fleet = Object.entries(c.services).filter(([, s]) => s.profiles?.includes('fleet')).map(([n]) => n).sort();
    assert.deepEqual(fleet, ['envoy-fleet-proxy', 'etcd', 'fleet-config', 'shadowplane-a', 'shadowplane-b']);
    const etcd = c.services.etcd!;
    assert.match(etcd.image!, /^quay\.io\/coreos\/etcd:v3\./);
    const client = etcd.command!.find((a) => a.startsWith('--advertise-client-urls='))!.split('=')[1]!.replace(/^http:\/\//, '');
    const url = `etcd://${client}/shadowplane/config`;
    const bootstrap = parse(await readFile(path.join(REPO_ROOT, 'envoy/bootstrap-fleet.yaml'), 'utf8')) as {
      static_resources: { clusters: Array<{ load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> } }> };
    };
    const xds = bootstrap.static_resources.clusters[0]!.load_assignment.endpoints[0]!.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
    const replicas = ['shadowplane-a', 'shadowplane-b'].map((n) => c.services[n]!);
    assert.deepEqual(replicas.map((r) => r.command![r.command!.indexOf('--config') + 1]), [url, url]);
    assert.deepEqual(replicas.map((r) => r.command![r.command!.indexOf('--xds') + 1]), xds);
    for (const r of replicas) {
      const admin = r.command![r.command!.indexOf('--admin') + 1]!;
      assert.ok(c.services.shadowplane!.ports!.includes(`${admin.split(':')[1]}:${admin.split(':')[1]}`), `${admin} is published`);
      assert.ok(r.environment?.SHADOWPLANE_ADMIN_TOKEN, 'an admin beyond loopback has a token');
    }
    // The one-shot writes the sandbox's config with its listener moved, to the key the replicas read.
    const oneShot = c.services['fleet-config']!.command!.join(' ');
    assert.ok(oneShot.endsWith(`--config ${url}`), oneShot);
    const moved = /s\/address: ([\d.:]+)\/address: [\d.]+:(\d+)\//.exec(oneShot)!;
    assert.match(await readFile(path.join(REPO_ROOT, 'configs/sandbox.yaml'), 'utf8'), new RegExp(`address: ${moved[1]!.replace(/\./g, '\\.')}\\n`));
    assert.ok(c.services.shadowplane!.ports!.includes(`${moved[2]}:${moved[2]}`));
    assert.ok(c.services['envoy-fleet-proxy']!.volumes!.includes('./envoy/bootstrap-fleet.yaml:/etc/envoy/bootstrap.yaml:ro'));
  });
});
