// Aborting an upstream request over HTTP/1 destroys its connection. When the data path cuts off a
// mirror copy (its timeout, or closing), that connection is reset (RST) rather than closed: closed
// the usual way (FIN) it would hold its local port for a minute in FIN_WAIT_2 or TIME_WAIT, and a
// mirror that never answers costs one connection per copy (1024 every max_stream_duration at the
// default limits), which runs through the ephemeral ports to that mirror within a minute and then
// stalls the process in connect(). Envoy closes such connections with a FIN; primaries keep that.
import type { Socket } from 'node:net';

/** Set while an abort that should reset runs (undici destroys the socket synchronously inside it). */
let resetting = false;

/** Runs `abort` so that a connection it destroys is reset. */
export function abortResetting(abort: () => void): void {
  resetting = true;
  try {
    abort();
  } finally {
    resetting = false;
  }
}

/** Makes `socket` (plain TCP) reset instead of close when destroyed by an abortResetting() abort. */
export function resetWhenAborted(socket: Socket): void {
  const destroy = socket.destroy.bind(socket);
  socket.destroy = (err?: Error): Socket => {
    if (!resetting || socket.connecting || socket.destroyed) return destroy(err);
    socket.destroy = destroy;
    return socket.resetAndDestroy();
  };
}
