// Free loopback ports, as the sandbox's helpers (src/sandbox/etcd-process.ts) take them too.
export { freePort } from '../../src/sandbox/ports.js';
