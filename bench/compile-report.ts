// The compile goals of bench/RESULTS.md, from bench/run.ts's compile rows (one per config size).

export interface CompileRow {
  routes: number;
  validateMs: number;
  modelMs: number;
  translateMs: number;
  encodeMs: number;
  editFullMs: number;
  editIncrementalMs: number;
  maxRssMiB: number;
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const mark = (ok: boolean): string => (ok ? '**met**' : '**not met**');

/** The incremental edit on the largest config against the same edit on 1k routes: at most this factor (the config grows 50×). */
export const EDIT_GROWTH_GOAL = 5;

export function compileGoalLines(rows: readonly CompileRow[]): string[] {
  const out: string[] = [];
  const c10k = rows.find((r) => r.routes === 10_000);
  if (c10k) {
    const ms = c10k.validateMs + c10k.modelMs + c10k.translateMs;
    out.push(`- 10k-route compile (validate + model + translate) < 200 ms: ${f0(ms)} ms → ${mark(ms < 200)}; with encoding every resource to protobuf: ${f0(ms + c10k.encodeMs)} ms`);
  }
  // The same edit (one endpoint moved) on configs of growing size: what it touched is the same, so its cost must stay nearly flat.
  const base = rows.find((r) => r.routes === 1000);
  const largest = rows.reduce<CompileRow | undefined>((a, b) => (!a || b.routes > a.routes ? b : a), undefined);
  if (base && largest && largest.routes > base.routes) {
    const grew = largest.editIncrementalMs / base.editIncrementalMs;
    const size = largest.routes / base.routes;
    out.push(
      `- An edit costs what it touched, not the config's size (moving one endpoint; met when the incremental edit on ${largest.routes} routes takes ≤ ${EDIT_GROWTH_GOAL}× its time on ${base.routes}, a config ${f0(size)}× the size): ${f1(largest.editIncrementalMs)} ms vs ${f1(base.editIncrementalMs)} ms = ${f1(grew)}× → ${mark(grew <= EDIT_GROWTH_GOAL)}; incremental (from scratch) by size: ${rows.map((r) => `${r.routes} routes ${f1(r.editIncrementalMs)} ms (${f1(r.editFullMs)} ms)`).join(', ')}${grew > EDIT_GROWTH_GOAL ? `. It grows ${f1(grew)}× for ${f0(size)}× the routes (${f1(grew / EDIT_GROWTH_GOAL)}× over the bound): part of every edit still scales with the whole config` : ''}`,
    );
  }
  return out;
}
