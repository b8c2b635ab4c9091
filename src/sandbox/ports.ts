import { createServer, type AddressInfo } from 'node:net';

/** A loopback port that was free a moment ago (for Envoy's listeners and admin, which need a number). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
