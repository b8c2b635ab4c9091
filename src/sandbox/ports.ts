import { createServer, type AddressInfo } from 'node:net';

/** Ports this process has handed out: the kernel may offer a port again once it is closed. */
const handedOut = new Set<number>();

/**
 * A loopback port that was free a moment ago (for Envoy's listeners and admin, which need a number),
 * and never one this process handed out before, so two calls never name the same port.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((resolve) => srv.close(resolve));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
