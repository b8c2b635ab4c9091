// TCP connections as the kernel sees them (/proc/net/tcp{,6} and each process's file descriptors):
// which processes hold the server side of connections to a port (how a test sees that a listener is
// shared by several worker processes), and the states of every socket to or from a port (how it sees
// that connections were reset rather than left closing).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The kernel's TCP states (include/net/tcp_states.h), by their /proc code. */
const STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

interface TcpEntry {
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: string;
  readonly inode: string;
}

function tcpEntries(): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (addr: string): number => Number.parseInt(addr.split(':')[1]!, 16);
      out.push({ localPort: port(f[1]!), remotePort: port(f[2]!), state: STATES[f[3]!] ?? f[3]!, inode: f[9]! });
    }
  }
  return out;
}

/** Socket inodes of established connections whose local port is `port`. */
function establishedInodes(port: number): Set<string> {
  return new Set(tcpEntries().filter((e) => e.localPort === port && e.state === 'ESTABLISHED').map((e) => e.inode));
}

/** How many sockets to or from `port` (either end) are in each state, listening ones left out. */
export function tcpStates(port: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of tcpEntries()) if ((e.localPort === port || e.remotePort === port) && e.state !== 'LISTEN') out[e.state] = (out[e.state] ?? 0) + 1;
  return out;
}

/** For each of `pids`, how many of those connections it holds. */
export function socketOwners(port: number, pids: readonly number[]): Map<number, number> {
  const inodes = establishedInodes(port);
  const owners = new Map<number, number>();
  for (const pid of pids) {
    let n = 0;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) n++;
      } catch {
        // closed meanwhile
      }
    }
    owners.set(pid, n);
  }
  return owners;
}
