// The push fan-out section of bench/RESULTS.md: shadowplane and go-control-plane under the same
// load, cell by cell, and the issue's goals with a verdict each, in this run's own numbers.
import type { FanoutResult } from './fanout.js';

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const mark = (ok: boolean): string => (ok ? '**met**' : '**not met**');

export interface FanoutSection {
  readonly results: readonly FanoutResult[];
  readonly command: string;
  readonly machine: string;
  readonly versions: string;
  readonly at: Date;
}

type Cell = Pick<FanoutResult, 'mode' | 'connection' | 'streams'>;
const sameCell = (a: Cell, b: Cell): boolean => a.mode === b.mode && a.connection === b.connection && a.streams === b.streams;

export function fanoutSection(o: FanoutSection): string {
  const ours = o.results.filter((r) => r.server === 'shadowplane');
  const ref = (r: FanoutResult): FanoutResult | undefined => o.results.find((x) => x.server === 'go-control-plane' && sameCell(x, r));
  const cell = (mode: string, streams: number, connection = 'per-proxy'): FanoutResult | undefined => ours.find((r) => r.mode === mode && r.streams === streams + 1 && r.connection === connection);
  const goals: string[] = [];
  const why: string[] = [];
  const one = ['sotw', 'delta'].map((m) => cell(m, 1)).filter((r) => r !== undefined);
  if (one.length > 0) {
    goals.push(`- One stream < 10 ms (PUT → it has the edit, p50): ${one.map((r) => `${r.mode} ${f1(r.firstP50Ms)} ms`).join(', ')} → ${mark(one.every((r) => r.firstP50Ms < 10))}`);
  }
  const d1k = cell('delta', 1000);
  const s1k = cell('sotw', 1000);
  if (d1k) goals.push(`- 1000 streams, delta p50 < 50 ms: ${f0(d1k.p50Ms)} ms → ${mark(d1k.p50Ms < 50)}`);
  if (s1k) goals.push(`- 1000 streams, state of the world p50 < 80 ms: ${f0(s1k.p50Ms)} ms → ${mark(s1k.p50Ms < 80)}`);
  if (d1k && s1k) goals.push(`- State-of-the-world bytes per edit within 2× of delta's: ${f0(s1k.bytesPerEdit)} vs ${f0(d1k.bytesPerEdit)} = ${(s1k.bytesPerEdit / d1k.bytesPerEdit).toFixed(2)}× → ${mark(s1k.bytesPerEdit <= 2 * d1k.bytesPerEdit)}`);
  const cpuCells = [s1k, d1k].filter((r) => r !== undefined);
  if (cpuCells.length > 0) {
    goals.push(`- Server CPU per edit per stream ≤ 0.05 ms (1000 streams): ${cpuCells.map((r) => `${r.mode} ${f3(r.cpuMsPerEditPerStream)} ms`).join(', ')} → ${mark(cpuCells.every((r) => r.cpuMsPerEditPerStream <= 0.05))}`);
  }
  const big = ours.filter((r) => r.streams >= 5000);
  if (big.length > 0) goals.push(`- 5000 streams held, RSS per stream ≤ 100 KiB: ${big.map((r) => `${r.mode} ${f0(r.rssPerStreamKiB)} KiB`).join(', ')} → ${mark(big.every((r) => r.rssPerStreamKiB <= 100))}`);
  const idle = Math.max(...ours.map((r) => r.rssIdleMiB));
  if (ours.length > 0) goals.push(`- Idle RSS ≤ 64 MiB (1k-route config loaded, 10 s after it serves; the largest of this run's starts): ${f0(idle)} MiB → ${mark(idle <= 64)}`);
  const paired = ours.filter((r) => ref(r));
  const ahead = (r: FanoutResult): string[] => {
    const g = ref(r)!;
    const behind: string[] = [];
    if (r.p50Ms > g.p50Ms) behind.push('p50');
    if (r.cpuMsPerEditPerStream > g.cpuMsPerEditPerStream) behind.push('CPU');
    if (r.bytesPerEdit > g.bytesPerEdit) behind.push('bytes');
    if (r.rssPerStreamKiB > g.rssPerStreamKiB) behind.push('RSS per stream');
    return behind;
  };
  if (paired.length > 0) {
    const lost = paired.filter((r) => ahead(r).length > 0);
    goals.push(
      `- Ahead of go-control-plane in every cell (p50, CPU per stream, bytes, RSS per stream): ${paired.length - lost.length} of ${paired.length} cells → ${mark(lost.length === 0)}${lost.length > 0 ? `; behind in ${lost.map((r) => `${r.mode}/${r.connection}/${r.streams} (${ahead(r).join(', ')})`).join('; ')}` : ''}`,
    );
  }

  if (d1k && d1k.cpuMsPerEditPerStream > 0.05) {
    why.push(
      `- **CPU per stream.** ${f3(d1k.cpuMsPerEditPerStream)} ms per delta stream per edit: the response is encoded once for every stream in step (one diff and one set of bytes, shared), so what is left per stream is grpc-js and Node's HTTP/2 — framing the message, writing it to the stream's socket, reading and decoding the ACK — which the CPU profile of the server under this load shows as most of the time (\`SHADOWPLANE_BENCH_CPU_PROF=DIR npm run bench -- --only=fanout\`).`,
    );
  }
  if (ours.length > 0 && idle > 64) {
    why.push(
      `- **Idle RSS.** ${f0(idle)} MiB: Node.js alone is about 40 MiB resident here (34 MiB of it the node binary's own pages); the live heap after a full GC is about 24 MiB (the code this server loads — grpc-js, zod, the Envoy API definitions for protobufjs, the importers — and the config, its model and the encoded resources); the rest is V8's young generation, grown to 2 × 16 MiB while the first config compiles and not given back while the server idles (\`node --max-semi-space-size=2\` brings this start to about 77 MiB; see the README's Benchmarks).`,
    );
  }

  const lines = [
    '## Push fan-out',
    '',
    `Written by \`${o.command}\` on ${o.at.toISOString()}: ${o.machine}; ${o.versions}.`,
    '',
    'One real Envoy plus simulated proxies on a 1k-route config (200 clusters, each EDS); each edit moves one cluster\'s endpoint. The simulated proxies (bench/sim-proxies.ts) run in two child processes of their own, subscribe and ACK as Envoy does, each on its own connection (`per-proxy`, as real Envoys) or all of a process on one (`shared`). shadowplane gets each edit as `PUT /config` of the YAML (parse, check, compile, push); go-control-plane v0.14 (bench/go-control-plane: its snapshot cache and ADS server, one snapshot for every node, each type versioned by a hash of its resources) gets the compiled snapshot, as JSON, by `PUT /snapshot`. Latency runs from the PUT until the last stream has the new endpoints (first: until the first has); CPU and RSS are the server process\'s, from /proc; bytes are the resource bytes all simulated streams received per edit. Streams count Envoy.',
    '',
    ...(goals.length > 0 ? ['### Goals', '', ...goals, ''] : []),
    ...(why.length > 0 ? ['### Goals not met, with this run\'s numbers', '', ...why, ''] : []),
    '| server | xDS | connection | streams | edits | p50 ms | p99 ms | max ms | first p50 ms | Envoy p50 ms | CPU ms / edit | CPU ms / edit / stream | bytes / edit | RSS MiB idle → held | RSS KiB / stream |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...o.results.map(
      (r) =>
        `| ${r.server} | ${r.mode} | ${r.connection} | ${r.streams} | ${r.edits} | ${f0(r.p50Ms)} | ${f0(r.p99Ms)} | ${f0(r.maxMs)} | ${f1(r.firstP50Ms)} | ${f0(r.envoyP50Ms)} | ${f1(r.cpuMsPerEdit)} | ${f3(r.cpuMsPerEditPerStream)} | ${f0(r.bytesPerEdit)} | ${f0(r.rssIdleMiB)} → ${f0(r.rssMiB)} | ${f0(r.rssPerStreamKiB)} |`,
    ),
    '',
  ];
  if (paired.length > 0) {
    lines.push('shadowplane ÷ go-control-plane, cell by cell (below 1 is shadowplane ahead):', '', '| xDS | connection | streams | p50 | CPU / stream | bytes | RSS / stream |', '|---|---|---:|---:|---:|---:|---:|');
    for (const r of paired) {
      const g = ref(r)!;
      lines.push(`| ${r.mode} | ${r.connection} | ${r.streams} | ${(r.p50Ms / g.p50Ms).toFixed(2)} | ${(r.cpuMsPerEditPerStream / g.cpuMsPerEditPerStream).toFixed(2)} | ${(r.bytesPerEdit / g.bytesPerEdit).toFixed(2)} | ${(r.rssPerStreamKiB / g.rssPerStreamKiB).toFixed(2)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
