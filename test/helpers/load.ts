// A bounded load loop: `concurrency` workers send GETs until told to stop, or until the time cap.
import { httpGet } from './http-client.js';

export interface LoadResult {
  readonly sent: number;
  /** Status codes other than 2xx, and transport errors, in order. */
  readonly failures: string[];
}

export interface RunningLoad {
  /** Stops the workers after their current request. */
  stop(): Promise<LoadResult>;
  /** Waits until the request or time cap ends the load. */
  finished(): Promise<LoadResult>;
}

export function startLoad(o: { port: number; path: string; headers?: Record<string, string>; concurrency: number; maxMs: number; maxRequests: number }): RunningLoad {
  let stopped = false;
  let sent = 0;
  const failures: string[] = [];
  const deadline = Date.now() + o.maxMs;
  const worker = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline && sent < o.maxRequests) {
      sent++;
      try {
        const r = await httpGet(o.port, o.path, o.headers);
        if (r.status < 200 || r.status > 299) failures.push(`HTTP ${r.status}: ${r.body.slice(0, 120)}`);
      } catch (e) {
        failures.push(`error: ${(e as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  const all = Promise.all(workers).then(() => ({ sent, failures }));
  return {
    stop() {
      stopped = true;
      return all;
    },
    finished: () => all,
  };
}
