// The data-path benchmark's misbehaving mirrors, in a process of their own (so that nothing the
// benchmark process does can slow them): one answers every request after 1 s, the other accepts
// connections and never reads or answers. Prints {"slow":PORT,"silent":PORT} once listening; ends
// when its parent closes stdin.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

const slow = createHttpServer((req, res) => {
  req.resume();
  setTimeout(() => res.end('slow\n'), 1000);
});
slow.keepAliveTimeout = 60_000;
const held = new Set<Socket>();
const silent = createTcpServer((s) => {
  held.add(s);
  s.pause();
  s.on('error', () => undefined); // the engine resets the connections of copies it cuts off
  s.on('close', () => held.delete(s));
});
// Backlogs as large as the kernel allows: a mirror's 1024 connections arrive at once.
await new Promise<void>((r) => slow.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, r));
await new Promise<void>((r) => silent.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, r));
process.stdout.write(`${JSON.stringify({ slow: (slow.address() as AddressInfo).port, silent: (silent.address() as AddressInfo).port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  slow.closeAllConnections();
  for (const s of held) s.destroy();
  process.exit(0);
});
