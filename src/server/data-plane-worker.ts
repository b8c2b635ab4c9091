// A data-plane worker process (`serve --data-plane builtin` and `proxy` with --workers N > 1): one
// built-in data plane, fed every config by the primary over IPC. Its listeners are the primary's
// (node:cluster shares each address among the workers), and it never talks to a control plane.
// It stops when the primary says so, or when the primary is gone.
import cluster from 'node:cluster';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createDataPlane, type ApplyResult } from '../proxy/index.js';
import { WORKER_ENV, type FromWorker, type ToWorker, type WorkerInit, type WorkerReplies } from './worker-protocol.js';

if (!cluster.isWorker) throw new Error('data-plane-worker runs as a node:cluster worker of serve or proxy');

const init = JSON.parse(process.env[WORKER_ENV] ?? '{}') as WorkerInit;
const logger = pino({ level: init.logLevel, base: { ...init.bindings, worker: init.slot, pid: process.pid } });
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const plane = createDataPlane({ logger, registry, options: init.options });

function send(m: FromWorker): void {
  process.send?.(m);
}

function applied(r: ApplyResult): WorkerReplies['apply'] {
  if (r.ok) return { ok: true };
  return { ok: false, error: { code: r.error.code, message: r.error.message, problems: r.error.problems } };
}

let closing: Promise<void> | undefined;
function close(): Promise<void> {
  closing ??= plane.close().then(() => {
    // Exit once the reply (if any) is on its way.
    setImmediate(() => process.exit(0));
  });
  return closing;
}

async function answer(m: ToWorker): Promise<WorkerReplies[keyof WorkerReplies]> {
  switch (m.op) {
    case 'apply':
      return applied(await plane.apply(m.resources, m.runtime));
    case 'comparisons':
      return plane.comparisons();
    case 'metrics':
      return (await registry.getMetricsAsJSON()) as WorkerReplies['metrics'];
    case 'close':
      await close();
      return {};
  }
}

process.on('message', (m: ToWorker) => {
  answer(m).then(
    (reply) => send({ op: 'reply', id: m.id, reply }),
    (err: unknown) => logger.error({ err, op: m.op }, 'data-plane worker request failed'),
  );
});
// The terminal's Ctrl-C reaches the whole process group: the primary decides when workers stop.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void close());
process.on('disconnect', () => void close());
send({ op: 'ready' });
