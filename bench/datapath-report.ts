// The data-path part of bench/RESULTS.md: its goal lines, why a goal is not met (in the run's own
// numbers, with what the engine's profile shows), and the table. bench/run.ts places them.
import { BAD_MIRRORS, type Case, type DatapathResult, type DatapathRow, type ProxyName, type SoakRow } from './datapath.js';

const ENGINE: ProxyName = 'shadowplane engine';
const NGINX: ProxyName = 'nginx mirror';
const ENVOY: ProxyName = 'Envoy (via shadowplane)';

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const mark = (ok: boolean): string => (ok ? '**met**' : '**not met**');

/** The goal's figures: the issue says "slow, silent or refusing". */
const CASE_NAME: Record<Case, string> = {
  'no mirror': 'no mirror',
  'healthy mirror': 'healthy mirror',
  'mirror answers after 1 s': 'slow (answers after 1 s)',
  'mirror never answers': 'silent (never answers)',
  'mirror refuses connections': 'refusing',
};

const RSS_GOAL_MIB = 32;
const P99_FACTOR = 1.2;
const PER_CORE_GOAL = 0.6;

function finder(rows: readonly DatapathRow[]) {
  return (proxy: ProxyName, c: Case, workers: number): DatapathRow | undefined => rows.find((r) => r.proxy === proxy && r.case === c && r.workers === workers);
}

const growth = (r: DatapathRow | SoakRow): number => r.rssEndMiB - r.rssStartMiB;

const rounds = (r: DatapathRow): string => (r.rounds.length > 1 ? `median of ${r.rounds.length} runs` : 'one run');

/** `x` with `digits` decimals, or more when that many would print it as the goal's own bound (0.996 against 1 is "0.996", not "1.00"). */
function near(x: number, bound: number, digits = 2): string {
  if (!Number.isFinite(x)) return 'n/a';
  for (let d = digits; d < 4; d++) if (Number(x.toFixed(d)) !== bound || x === bound) return x.toFixed(d);
  return x.toFixed(4);
}

type Measured = DatapathRow | SoakRow;

/** One set of engine runs measured side by side: a worker count's runs, or a soak. Each bad mirror is judged against its own series' healthy mirror. */
interface Series {
  readonly label: string;
  /** "at 2 workers", "in the 60 s soak". */
  readonly where: string;
  readonly note: string;
  readonly healthy: Measured;
  of(c: Case): Measured | undefined;
}

function engineSeries({ rows, soaks }: Pick<DatapathResult, 'rows' | 'soaks'>): Series[] {
  const out: Series[] = [];
  const engine = rows.filter((r) => r.proxy === ENGINE);
  for (const workers of [...new Set(engine.map((r) => r.workers))]) {
    const healthy = engine.find((r) => r.case === 'healthy mirror' && r.workers === workers);
    if (!healthy) continue;
    out.push({ label: `${workers} worker${workers > 1 ? 's' : ''}`, where: `at ${workers} worker${workers > 1 ? 's' : ''}`, note: `${healthy.seconds} s runs, ${rounds(healthy)} each`, healthy, of: (c) => engine.find((r) => r.case === c && r.workers === workers) });
  }
  const engineSoaks = soaks.filter((r) => r.proxy === ENGINE);
  for (const workers of [...new Set(engineSoaks.map((r) => r.workers))]) {
    const healthy = engineSoaks.find((r) => r.case === 'healthy mirror' && r.workers === workers);
    if (!healthy) continue;
    out.push({ label: `the ${healthy.seconds} s soak${workers > 1 ? ` at ${workers} workers` : ''}`, where: `in the ${healthy.seconds} s soak${workers > 1 ? ` at ${workers} workers` : ''}`, note: `${workers} worker${workers > 1 ? 's' : ''}, one run each`, healthy, of: (c) => engineSoaks.find((r) => r.case === c && r.workers === workers) });
  }
  return out;
}

/** The goal lines, each with its ratio and verdict. */
export function datapathGoals({ rows, soaks }: DatapathResult): string[] {
  const dp = finder(rows);
  const out: string[] = [];
  const healthy = dp(ENGINE, 'healthy mirror', 1);
  const all = engineSeries({ rows, soaks });
  if (all.length > 0) {
    const judged = all.flatMap((s) => BAD_MIRRORS.map((c) => ({ s, r: s.of(c) })).filter((x): x is { s: Series; r: Measured } => x.r !== undefined));
    if (judged.length > 0) {
      const listed = (f: (r: Measured, h: Measured) => string): string =>
        all
          .filter((s) => BAD_MIRRORS.some((c) => s.of(c)))
          .map((s) => `${s.label} (${s.note}; healthy ${f(s.healthy, s.healthy)}): ${BAD_MIRRORS.map((c) => s.of(c)).filter((r): r is Measured => r !== undefined).map((r) => `${CASE_NAME[r.case]} ${f(r, s.healthy)}`).join(', ')}`)
          .join('; ');
      const rpsRatio = (x: { s: Series; r: Measured }): number => x.r.rps / x.s.healthy.rps;
      const p99Ratio = (x: { s: Series; r: Measured }): number => x.r.p99Ms / x.s.healthy.p99Ms;
      const worstRps = judged.reduce((a, b) => (rpsRatio(b) < rpsRatio(a) ? b : a));
      const worstP99 = judged.reduce((a, b) => (p99Ratio(b) > p99Ratio(a) ? b : a));
      out.push(
        `- Slow and dead mirrors cost the primary nothing (engine; judged at every worker count measured and on the soaks, against the healthy mirror in the same series): primary req/s ≥ the healthy mirror's: worst ${CASE_NAME[worstRps.r.case]} ${worstRps.s.where}, ${f0(worstRps.r.rps)} vs ${f0(worstRps.s.healthy.rps)} = ${near(rpsRatio(worstRps), 1, 2)}× → ${mark(judged.every((x) => x.r.rps >= x.s.healthy.rps))}. Each: ${listed((r, h) => (r === h ? f0(r.rps) : `${f0(r.rps)} (${near(r.rps / h.rps, 1, 2)}×${r.rps >= h.rps ? '' : ', short'})`))}`,
        `- … p99 ≤ ${P99_FACTOR}× the healthy mirror's: worst ${CASE_NAME[worstP99.r.case]} ${worstP99.s.where}, ${f1(worstP99.r.p99Ms)} vs ${f1(worstP99.s.healthy.p99Ms)} ms = ${near(p99Ratio(worstP99), P99_FACTOR, 2)}× → ${mark(judged.every((x) => x.r.p99Ms <= P99_FACTOR * x.s.healthy.p99Ms))}. Each: ${listed((r, h) => (r === h ? `${f1(r.p99Ms)} ms` : `${f1(r.p99Ms)} ms (${near(r.p99Ms / h.p99Ms, P99_FACTOR, 2)}×${r.p99Ms <= P99_FACTOR * h.p99Ms ? '' : ', over'})`))}`,
      );
    }
  }
  const badSoaks = soaks.filter((r) => (BAD_MIRRORS as readonly Case[]).includes(r.case));
  if (badSoaks.length > 0) {
    const healthySoak = soaks.find((r) => r.case === 'healthy mirror');
    out.push(
      `- … RSS growth < ${RSS_GOAL_MIB} MiB over 60 s at the default circuit breakers (1024 in flight; engine, 1 worker, one run each): ${badSoaks.map((r) => `${CASE_NAME[r.case]} ${r.seconds >= 60 ? '' : `(a ${r.seconds} s run) `}${growth(r) >= 0 ? '+' : ''}${f1(growth(r))} MiB → ${mark(growth(r) < RSS_GOAL_MIB && r.seconds >= 60)}`).join('; ')}${healthySoak ? ` (healthy mirror: ${growth(healthySoak) >= 0 ? '+' : ''}${f1(growth(healthySoak))} MiB)` : ''}`,
    );
  }
  const envoyHealthy = dp(ENVOY, 'healthy mirror', 1);
  if (healthy && envoyHealthy) {
    const ratio = healthy.rps / envoyHealthy.rps;
    out.push(`- Per core, engine ≥ ${PER_CORE_GOAL}× Envoy's req/s with a healthy mirror (1 worker, Envoy --concurrency 1, ${rounds(healthy)} each): ${f0(healthy.rps)} vs ${f0(envoyHealthy.rps)} = ${f2(ratio)}× → ${mark(ratio >= PER_CORE_GOAL)}`);
  }
  for (const workers of [...new Set(rows.map((r) => r.workers))]) {
    const eng = dp(ENGINE, 'healthy mirror', workers);
    const ngx = dp(NGINX, 'healthy mirror', workers);
    if (!eng || !ngx) continue;
    out.push(`- Engine with mirroring ≥ 1.2× nginx \`mirror\` req/s (${workers} worker${workers > 1 ? 's' : ''} each): ${f0(eng.rps)} vs ${f0(ngx.rps)} = ${f2(eng.rps / ngx.rps)}× → ${mark(eng.rps >= 1.2 * ngx.rps)}`);
    out.push(`- Engine p99 ≤ 1.2× nginx's with mirroring (${workers} worker${workers > 1 ? 's' : ''} each): ${f1(eng.p99Ms)} ms vs ${f1(ngx.p99Ms)} ms = ${f2(eng.p99Ms / ngx.p99Ms)}× → ${mark(eng.p99Ms <= 1.2 * ngx.p99Ms)}`);
  }
  const one = dp(ENGINE, 'healthy mirror', 1);
  const two = dp(ENGINE, 'healthy mirror', 2);
  const envoyTwo = dp(ENVOY, 'healthy mirror', 2);
  if (one && two) {
    out.push(
      `- Every core (no figure set): the engine with --workers 2 does ${f0(two.rps)} req/s with a healthy mirror, ${f2(two.rps / one.rps)}× its one-worker rate${envoyTwo ? `; Envoy --concurrency 2 does ${f0(envoyTwo.rps)} (engine ${f2(two.rps / envoyTwo.rps)}×)` : ''}. On this 2-core machine wrk and the upstreams share the same cores.`,
    );
  }
  return out;
}

/** Why each unmet goal is not met, in this run's numbers. */
export function datapathWhy({ rows, soaks }: DatapathResult): string[] {
  const dp = finder(rows);
  const out: string[] = [];
  const healthy = dp(ENGINE, 'healthy mirror', 1);
  const all = engineSeries({ rows, soaks });
  for (const c of BAD_MIRRORS) {
    const misses: string[] = [];
    for (const s of all) {
      const r = s.of(c);
      if (!r) continue;
      const h = s.healthy;
      const runs = (x: Measured): string | undefined => ('rounds' in x && x.rounds.length > 1 ? x.rounds.map((y) => f1(y.p99Ms)).join(', ') : undefined);
      const each = runs(r) && runs(h) ? `; the runs: ${runs(r)} ms against ${runs(h)} ms` : '';
      if (r.rps < h.rps) misses.push(`${s.where}, req/s ${f0(r.rps)} is ${f1((100 * (h.rps - r.rps)) / h.rps)}% under the healthy mirror's ${f0(h.rps)}`);
      if (r.p99Ms > P99_FACTOR * h.p99Ms) misses.push(`${s.where}, p99 ${f1(r.p99Ms)} ms is ${f2(r.p99Ms / h.p99Ms)}× the healthy mirror's ${f1(h.p99Ms)} ms (goal ${P99_FACTOR}×, over by ${f1(r.p99Ms - P99_FACTOR * h.p99Ms)} ms${each})`);
    }
    const soak = soaks.find((x) => x.case === c);
    if (soak && growth(soak) >= RSS_GOAL_MIB) misses.push(`RSS grew ${f1(growth(soak))} MiB over the ${soak.seconds} s soak (${f1(growth(soak) - RSS_GOAL_MIB)} MiB over; peak ${f0(soak.rssPeakMiB)} MiB)`);
    if (misses.length === 0) continue;
    out.push(`- **Engine with a ${CASE_NAME[c]} mirror:** ${misses.join('; ')}. ${BAD_MIRROR_PROFILE[c]} (That profile was taken at 1 worker when this text was written, not in this run.)`);
  }
  const envoyHealthy = dp(ENVOY, 'healthy mirror', 1);
  if (healthy && envoyHealthy && healthy.rps < PER_CORE_GOAL * envoyHealthy.rps) {
    out.push(
      `- **Per core against Envoy:** ${f0(healthy.rps)} req/s is ${f2(healthy.rps / envoyHealthy.rps)}× Envoy's ${f0(envoyHealthy.rps)}, ${f0(PER_CORE_GOAL * envoyHealthy.rps - healthy.rps)} req/s short of ${PER_CORE_GOAL}×. ${PER_CORE_PROFILE}`,
    );
  }
  for (const workers of [...new Set(rows.map((r) => r.workers))]) {
    const eng = dp(ENGINE, 'healthy mirror', workers);
    const ngx = dp(NGINX, 'healthy mirror', workers);
    const engNo = dp(ENGINE, 'no mirror', workers);
    if (!eng || !ngx || eng.rps >= 1.2 * ngx.rps) continue;
    out.push(
      `- **Against nginx at ${workers} worker${workers > 1 ? 's' : ''}:** ${f0(eng.rps)} req/s with mirroring is ${f2(eng.rps / ngx.rps)}× nginx's ${f0(ngx.rps)} (goal 1.2×)${engNo ? `; without a mirror the engine does ${f0(engNo.rps)}` : ''}. nginx is C on an event loop per worker. ${PER_CORE_PROFILE}`,
    );
  }
  return out;
}

/** What the engine's profile under each bad mirror shows (bench/RESULTS.md explains a miss with it). */
const BAD_MIRROR_PROFILE: Record<(typeof BAD_MIRRORS)[number], string> = {
  'mirror answers after 1 s':
    'Profile (node --cpu-prof, --trace-gc, monitorEventLoopDelay under this load): 2048 copies (1024 on the mirror\'s connections, 1024 waiting for one, the default circuit breakers) each keep their request state for 1–2 s, so it survives two scavenges and is promoted: scavenges copy more and take longer than with a healthy mirror (whose copies die young), and the old generation fills, so a mark-compact comes every few seconds. The primary\'s own work is less than with a healthy mirror (most copies are dropped as overflow); the difference is the garbage collector\'s.',
  'mirror never answers':
    'Profile (node --cpu-prof, --trace-gc, monitorEventLoopDelay): the same 2048 copies, and each costs a connection of its own: max_stream_duration (2 s) cuts it off and resets its connection, and the copy waiting behind it connects anew, 512 times a second at the default limits (Envoy makes as many). connect() alone is about 80 µs of kernel time on loopback, the largest single item after the socket writes; each connection\'s socket and client state live 2 s and are promoted, so scavenges copy more and the old generation fills faster than with a slow mirror, whose connections are reused. Cut-offs are paced (16 per turn of the event loop), so no wave of them stalls the loop; what is left is that per-copy work and the garbage collector\'s, spread over the primaries.',
  'mirror refuses connections':
    'Profile: copies are shed during the connect backoff (mirror_unreachable); what remains is the primary exchange itself.',
};

const PER_CORE_PROFILE =
  'Where the engine\'s time goes (node --cpu-prof under wrk, healthy mirror): the socket writes themselves (libuv writev and the header string writes into the kernel) are the largest share, then undici\'s HTTP/1 client and node:http; the data path\'s own code (route, headers, mirror dispatch, metrics cells) is a few percent after the rewrite to undici dispatch handlers.';

/** The data-path section: one table per worker count. */
export function datapathSection({ rows, soaks, loadAverage, machine, started }: DatapathResult): string[] {
  const dp = finder(rows);
  const most = Math.max(...rows.map((r) => r.rounds.length));
  const runsNote =
    most > 1
      ? `At one worker the engine and Envoy run each case ${most} times, the cases taken in turns, and the table gives the medians (each run's req/s and p99 listed): the machine is shared, and its load comes and goes within a minute.`
      : 'Each proxy runs each case once.';
  const lines = [
    '## Data path',
    '',
    `wrk (one thread and 32 keep-alive connections per worker) against each proxy: the engine (\`serve --data-plane builtin --workers N\`; \`--workers 1\` runs it in the control plane's process), nginx (\`worker_processes N\`, \`mirror\`) and Envoy (\`--concurrency N\`, configured over ADS by shadowplane), all in front of the same nginx-served loopback upstreams, each a private process of the run. The mirror cluster keeps the default circuit breakers (1024 requests in flight) and \`max_stream_duration: 2s\`. "answers after 1 s" and "never answers" (accepts, never reads) run in a process of their own. ${runsNote} RSS is the proxy's processes together (engine primary and workers; nginx master and workers), at the start of the measured run, at its end, and the peak of samples every second. Run on ${started.toISOString()} on ${machine}; the machine's load average was ${loadAverage.toFixed(2)} when it started.`,
    '',
  ];
  for (const workers of [...new Set(rows.map((r) => r.workers))]) {
    const sample = rows.find((r) => r.workers === workers)!;
    lines.push(`### ${workers} worker${workers > 1 ? 's' : ''} (wrk -t${sample.threads} -c${sample.connections})`, '');
    lines.push('| proxy | case | req/s | vs nginx | vs Envoy | vs own healthy | p50 ms | p99 ms | runs: req/s; p99 ms | non-2xx | socket errors | RSS MiB start → end (peak) | seconds |', '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    for (const r of rows.filter((x) => x.workers === workers)) {
      const n = dp(NGINX, r.case, workers);
      const e = dp(ENVOY, r.case, workers);
      const h = dp(r.proxy, 'healthy mirror', workers);
      lines.push(
        `| ${r.proxy} | ${r.case} | ${f0(r.rps)} | ${n ? f2(r.rps / n.rps) : ''} | ${e ? f2(r.rps / e.rps) : ''} | ${h ? f2(r.rps / h.rps) : ''} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${r.rounds.length > 1 ? `${r.rounds.map((x) => f0(x.rps)).join(', ')}; ${r.rounds.map((x) => f1(x.p99Ms)).join(', ')}` : ''} | ${r.non2xx} | ${r.errors} | ${f0(r.rssStartMiB)} → ${f0(r.rssEndMiB)} (${f0(r.rssPeakMiB)}) | ${r.seconds} |`,
      );
    }
    lines.push('');
  }
  if (soaks.length > 0) {
    lines.push(`### Memory: the engine under each mirror for ${soaks[0]!.seconds} s without a pause (1 worker)`, '');
    lines.push('| case | req/s | p99 ms | RSS MiB start → end | growth MiB | peak MiB |', '|---|---:|---:|---:|---:|---:|');
    for (const r of soaks) lines.push(`| ${r.case} | ${f0(r.rps)} | ${f2(r.p99Ms)} | ${f0(r.rssStartMiB)} → ${f0(r.rssEndMiB)} | ${f1(growth(r))} | ${f0(r.rssPeakMiB)} |`);
    lines.push('');
  }
  return lines;
}
