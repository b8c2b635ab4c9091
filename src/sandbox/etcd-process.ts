// A real etcd cluster on loopback for the tests and benchmarks: N members, each its own process with
// its own data folder and ports, started together and able to be killed, stopped and started again
// one by one. The binary is Debian's etcd-server (/usr/bin/etcd), or ETCD_BIN.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports.js';
import { sleep, waitFor } from './wait.js';

/** ETCD_BIN, else Debian's /usr/bin/etcd, else an `etcd` on the PATH. */
export function findEtcd(): string | undefined {
  const candidates = [process.env.ETCD_BIN, '/usr/bin/etcd', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'etcd'))];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** "3.4.23" from `etcd --version`, or "unknown". */
export function etcdVersion(bin: string): string {
  return /etcd Version: (\S+)/.exec(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
}

export interface EtcdMember {
  readonly name: string;
  /** host:port of its client URL. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

export class EtcdCluster {
  private readonly running = new Map<string, { child: ChildProcess; exited: Promise<void> }>();

  private constructor(
    private readonly bin: string,
    readonly members: readonly EtcdMember[],
    private readonly token: string,
  ) {}

  /** Starts `size` members under `dir` and resolves once every one reports healthy. */
  static async start(bin: string, o: { dir: string; size: number }): Promise<EtcdCluster> {
    const members: EtcdMember[] = [];
    for (let i = 0; i < o.size; i++) {
      const [client, peer] = [await freePort(), await freePort()];
      members.push({ name: `m${i}`, endpoint: `127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}`, dataDir: path.join(o.dir, `m${i}`) });
    }
    const cluster = new EtcdCluster(bin, members, `shadowplane-${process.pid}-${Date.now()}`);
    try {
      await cluster.startAll();
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /** Every member's client endpoint. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** `etcd://every-endpoint/KEY`. */
  url(key: string): string {
    return `etcd://${this.endpoints.join(',')}${key}`;
  }

  isRunning(i: number): boolean {
    return this.running.has(this.members[i]!.name);
  }

  /**
   * Starts member `i` (again: a restarted member rejoins with its data) and, unless told not to, waits
   * until it is healthy (which needs a quorum of members running).
   */
  async startMember(i: number, wait = true): Promise<void> {
    const m = this.members[i]!;
    if (this.running.has(m.name)) return;
    await mkdir(m.dataDir, { recursive: true });
    const log = openSync(path.join(m.dataDir, '..', `${m.name}.log`), 'a');
    const child = spawn(
      this.bin,
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=http://${m.endpoint}`,
        `--advertise-client-urls=http://${m.endpoint}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',')}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${this.token}`,
        '--logger=zap',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.running.set(m.name, { child, exited });
    void exited.then(() => {
      if (this.running.get(m.name)?.child === child) this.running.delete(m.name);
    });
    if (wait) await this.waitHealthy(i);
  }

  /** Waits until member `i` answers /health with a leader. */
  async waitHealthy(i: number, timeoutMs = 30_000): Promise<void> {
    const m = this.members[i]!;
    await waitFor(
      `etcd member ${m.name} (${m.endpoint}) healthy`,
      async () => {
        if (!this.running.has(m.name)) throw new Error(`etcd member ${m.name} exited; see ${path.join(m.dataDir, '..', `${m.name}.log`)}`);
        const r = await fetch(`http://${m.endpoint}/health`).catch(() => undefined);
        return r?.ok === true && ((await r.json()) as { health?: string }).health === 'true';
      },
      timeoutMs,
      100,
    );
  }

  /** SIGKILL (a crash) or SIGTERM (a clean stop) to member `i`, resolving once it has exited. */
  async stopMember(i: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const r = this.running.get(this.members[i]!.name);
    if (!r) return;
    r.child.kill(signal);
    await Promise.race([r.exited, sleep(5000)]);
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }

  async stopAll(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.stopMember(i, signal)));
  }

  /** Starts every stopped member and waits until all are healthy. */
  async startAll(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.startMember(i, false);
    for (let i = 0; i < this.members.length; i++) await this.waitHealthy(i);
  }

  close(): Promise<void> {
    return this.stopAll('SIGTERM');
  }
}
