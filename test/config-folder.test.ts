// `serve --config FOLDER`: every file in the folder is one config, watched as a whole. Adding,
// changing or removing a file reloads it; a broken set is rejected whole with the problem at its
// file:line:col, and the last good config keeps being served.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../src/sandbox/wait.js';
import { startControlPlane, type TestControlPlane } from './helpers/control-plane.js';
import { Backends } from './helpers/import-requests.js';
import { freePort } from './helpers/ports.js';

const gateway = (port: number): string => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: eg }
spec:
  gatewayClassName: eg
  listeners: [{ name: http, protocol: HTTP, port: ${port} }]
`;

const route = (name: string, host: string, service: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name} }
spec:
  parentRefs: [{ name: eg }]
  hostnames: [${host}]
  rules:
    - backendRefs: [{ name: ${service}, port: 80 }]
`;

const services = (b: Backends<'one' | 'two'>): string =>
  (['one', 'two'] as const)
    .map(
      (n) => `---
apiVersion: v1
kind: Service
metadata: { name: ${n} }
spec: { ports: [{ port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${n}-1, labels: { kubernetes.io/service-name: ${n} } }
addressType: IPv4
ports: [{ port: ${b.port(n)} }]
endpoints: [{ addresses: ["127.0.0.1"] }]
`,
    )
    .join('');

describe('a config folder', () => {
  let b: Backends<'one' | 'two'>;
  let cp: TestControlPlane;
  let port = 0;
  const backendFor = async (host: string): Promise<string | number> => {
    const h = await b.hit(port, '/', { host });
    return h.backend ?? h.status;
  };

  before(async () => {
    b = await Backends.start(['one', 'two'] as const);
    port = await freePort();
    cp = await startControlPlane(
      { 'gateway.yaml': gateway(port), 'route-one.yaml': route('one', 'one.example', 'one'), 'services.yaml': services(b) },
      { dataPlane: 'builtin', token: 's3cret', load: { listen: { host: '127.0.0.1', port: undefined } } },
    );
  });

  after(async () => {
    await cp?.stop();
    await b?.close();
  });

  it('serves the documents of every file as one config', async () => {
    assert.equal(await backendFor('one.example'), 'one');
    assert.equal(await backendFor('two.example'), 404);
  });

  it('a file added to the folder is served', async () => {
    await cp.edit(route('two', 'two.example', 'two'), 'route-two.yaml');
    await waitFor('two.example served', async () => (await backendFor('two.example')) === 'two');
    assert.equal(await backendFor('one.example'), 'one');
  });

  it('a broken edit is rejected whole, with file:line:col; the last good config keeps being served', async () => {
    const version = cp.controlPlane.cache.configVersion;
    await cp.edit(route('two', 'two.example', 'three'), 'route-two.yaml');
    await waitFor('rejected', () => cp.controlPlane.lastRejected !== undefined);
    assert.deepEqual(cp.controlPlane.lastRejected!.problems, [
      `${cp.configFile}/route-two.yaml:8:21 HTTPRoute/default/two: spec.rules[0].backendRefs[0]: ResolvedRefs=False, reason BackendNotFound: Service default/three not found [SP016]`,
    ]);
    assert.equal(cp.controlPlane.cache.configVersion, version);
    assert.equal(await backendFor('two.example'), 'two');
    assert.equal(await backendFor('one.example'), 'one');
  });

  it('a file removed from the folder is no longer served', async () => {
    await cp.remove('route-two.yaml');
    await waitFor('two.example gone', async () => (await backendFor('two.example')) === 404);
    assert.equal(await backendFor('one.example'), 'one');
  });

  it('PUT /config is refused for a folder: there is no one file to replace', async () => {
    const res = await fetch(`http://127.0.0.1:${cp.adminPort}/config`, { method: 'PUT', body: 'listeners: []', headers: { authorization: 'Bearer s3cret' } });
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { error: string }).error, /the config is the folder .*: edit its files/);
  });
});
