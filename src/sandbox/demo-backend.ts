// The sandbox's demo services: answer like seed 000's Python services and log every request the way
// `docker compose logs` shows them there (Host line, then an access-log line).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoBackend {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

function accessTime(d: Date): string {
  const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${mon}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `service1` → "service 1", `service1-mirror` → "service 1 mirror": what the demo answers with. */
export function displayName(name: string): string {
  return name.replace(/^service(\d+)/, 'service $1').replace(/-mirror$/, ' mirror');
}

export async function startDemoBackend(name: string, port: number, log: (line: string) => void, host = '127.0.0.1'): Promise<DemoBackend> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/healthz') {
        res.writeHead(200).end('ok\n');
        return;
      }
      const body = `Hello from behind shadowplane (${displayName(name)})!\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      log(`Host: ${req.headers.host ?? ''}`);
      log(`${req.socket.remoteAddress ?? '-'} - - [${accessTime(new Date())}] "${req.method} ${req.url} HTTP/${req.httpVersion}" 200 -`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    name,
    port: (server.address() as AddressInfo).port,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
