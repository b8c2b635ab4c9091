// Shared by the data-plane tests: loopback backends that record what they receive (with a body hash
// and the raw header lines), resources compiled from YAML, a built-in data plane on a fresh Registry
// with a silent logger (alone, or behind the usual single `front` listener), requests, and teardown.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ResourceSet } from '../../src/envoy-api/resource-set.js';
import { parseConfig } from '../../src/config/load.js';
import { buildModel } from '../../src/model/build.js';
import { createDataPlane, type DataPlane, type DataPlaneOptions } from '../../src/proxy/index.js';
import { translate } from '../../src/translate/resources.js';
import { freePort } from './ports.js';
import { arrivals, closeServer, listenOnLoopback } from './recording-backend.js';

export { closeServer, listenOnLoopback };

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: IncomingHttpHeaders;
  /** Header lines as sent, names lower-cased, repeats kept. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  readonly bodyLength: number;
  readonly bodySha256: string;
}

/** How a backend answers: at once, after a delay, never (holds the connection), or by resetting it. */
export type Behaviour = { readonly kind: 'answer' } | { readonly kind: 'delay'; readonly ms: number } | { readonly kind: 'hang' } | { readonly kind: 'reset' };

/** What a backend answers with; unset fields keep the default 200, text/plain, `<name>\n`. */
export interface Reply {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly received: Received[];
  behaviour: Behaviour;
  /** How to answer each request (when the behaviour answers at all); unset: the default reply. */
  reply: ((r: Received) => Reply) | undefined;
  /** Requests whose headers arrived (even if the body never completes or no answer is sent). */
  started: number;
  /** Received requests that carry `x-test-tag: tag`. */
  tagged(tag: string): Received[];
  waitFor(count: number, ms?: number, filter?: (r: Received) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startBackend(name: string, behaviour: Behaviour = { kind: 'answer' }): Promise<Backend> {
  const log = arrivals<Received>(name);
  const server: Server = createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
    backend.started++;
    const hash = createHash('sha256');
    let bodyLength = 0;
    req.on('data', (c: Buffer) => {
      bodyLength += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const rawHeaders: Array<[string, string]> = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
      const received: Received = { method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers, rawHeaders, bodyLength, bodySha256: hash.digest('hex') };
      log.record(received);
      const b = backend.behaviour;
      if (b.kind === 'hang') return;
      if (b.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      const answer = (): void => {
        const r = backend.reply?.(received) ?? {};
        res.writeHead(r.status ?? 200, { 'content-type': 'text/plain', 'x-backend': name, ...r.headers });
        res.end(r.body ?? `${name}\n`);
      };
      if (b.kind === 'delay') setTimeout(answer, b.ms);
      else answer();
    });
  });
  const port = await listenOnLoopback(server);
  const backend: Backend = {
    name,
    port,
    received: log.received,
    behaviour,
    reply: undefined,
    started: 0,
    tagged: (tag) => log.received.filter((r) => r.headers['x-test-tag'] === tag),
    waitFor: log.waitFor,
    close: () => closeServer(server),
  };
  return backend;
}

/** YAML config → the resources shadowplane serves (the same ones real Envoy gets). */
export function compileYaml(text: string): ResourceSet {
  const loaded = parseConfig(text, 'test.yaml');
  if (!loaded.ok) throw new Error(`test config is invalid: ${JSON.stringify(loaded.problems)}`);
  return translate(buildModel(loaded.config));
}

export interface TestPlane {
  readonly plane: DataPlane;
  readonly registry: Registry;
  /** The bound port of the listener named `name`. */
  port(name: string): number;
  /** A counter's or gauge's value (a histogram's count) for the labels given, summed over the others; 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function startPlane(resources: ResourceSet, options: DataPlaneOptions = {}): Promise<TestPlane> {
  const registry = new Registry();
  const plane = createDataPlane({ logger: pino({ level: 'silent' }), registry, options });
  const result = await plane.apply(resources);
  if (!result.ok) throw result.error;
  return {
    plane,
    registry,
    port(name) {
      const l = plane.listeners().find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name}`);
      return l.port;
    },
    async metric(name, labels = {}) {
      const m = await registry.getSingleMetric(name)?.get();
      if (!m) return 0;
      return m.values
        .filter((v) => (v as { metricName?: string }).metricName === undefined || (v as { metricName?: string }).metricName === `${name}_count`)
        .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
        .reduce((s, v) => s + v.value, 0);
    },
  };
}

/** What `startFrontPlane` serves. Routes and clusters are YAML flow mappings, one an item. */
export interface FrontSpec {
  /** The Host header `get` sends. */
  readonly host: string;
  /** The name of the one virtual host, which takes every domain; 'all' unless given. */
  readonly virtualHost?: string;
  readonly routes: readonly string[];
  readonly clusters: readonly string[];
}

export interface FrontPlane extends TestPlane {
  /** The port of the listener `front`. */
  readonly front: number;
  /** What was applied (to apply again, with runtime values say). */
  readonly resources: ResourceSet;
  /** A GET to `front` with the spec's Host, `headers` added. */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
}

/** The data-plane tests' common setup: one listener, `front`, on a free loopback port, with one virtual host for every domain. */
export async function startFrontPlane(spec: FrontSpec, options: DataPlaneOptions = {}): Promise<FrontPlane> {
  const front = await freePort();
  const resources = compileYaml(`
listeners:
  - name: front
    address: 127.0.0.1:${front}
    virtual_hosts:
      - name: ${spec.virtualHost ?? 'all'}
        domains: ["*"]
        routes:
${spec.routes.map((r) => `          - ${r}`).join('\n')}
clusters:
${spec.clusters.map((c) => `  - ${c}`).join('\n')}
`);
  const plane = await startPlane(resources, options);
  return { ...plane, front, resources, get: (path, headers = {}) => send(front, path, { headers: { host: spec.host, ...headers } }) };
}

/** For after(): closes each in the order given, one at a time (a test's data plane goes first, before the backends it forwards to). */
export async function closeAll(...items: ReadonlyArray<{ close(): Promise<unknown> }>): Promise<void> {
  for (const item of items) await item.close();
}

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: Buffer | string;
  readonly timeoutMs?: number;
}

/** One request over a fresh connection (node:http lets the test set Host and repeat headers). */
export function send(port: number, path: string, o: SendOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`${o.method ?? 'GET'} ${path} timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Writes `text` on a fresh connection and returns everything read until the server closes (or `ms`). */
export function rawExchange(port: number, text: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(text);
  });
}

/** Runs `count` calls of `fn` with at most `concurrency` at a time. */
export async function runBounded<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

/**
 * Backends in a child process, so a latency measurement is not skewed by the backends sharing the
 * test's event loop. Each answers `<name>\n`, after `delayMs` (-1: never).
 */
export async function startRemoteBackends(specs: Record<string, number>): Promise<{ ports: Record<string, number>; close(): Promise<void> }> {
  const code = `
    const http = require('node:http');
    const specs = ${JSON.stringify(specs)};
    const ports = {};
    let pending = Object.keys(specs).length;
    for (const [name, delay] of Object.entries(specs)) {
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          if (delay < 0) return;
          const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name + '\\n');
          if (delay === 0) answer(); else setTimeout(answer, delay);
        });
      });
      server.listen(0, '127.0.0.1', () => {
        ports[name] = server.address().port;
        if (--pending === 0) process.stdout.write(JSON.stringify(ports) + '\\n');
      });
    }
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out) as Record<string, number>);
    });
    child.once('exit', (code) => reject(new Error(`backend process exited with ${code}`)));
  });
  return {
    ports,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}
