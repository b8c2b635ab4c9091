// Counting on the request path without prom-client's per-call work (checking the labels and building
// a key from them on every inc): each label set gets a cell, a plain number, once; the request path
// adds to it; the prom-client metric takes the cells' values when the registry is read.
import type { Counter, Gauge, LabelValues } from 'prom-client';

export class Cell {
  value = 0;
}

interface Entry<L extends string> {
  readonly labels: LabelValues<L>;
  readonly cell: Cell;
  /** For a counter: how much of `value` prom-client has already been given. */
  reported: number;
}

/** The cells of one metric, one per label set (label values come from the config, so they are bounded). */
export class Cells<L extends string> {
  private readonly entries = new Map<string, Entry<L>>();

  constructor(private readonly labelNames: readonly L[]) {}

  /** The cell of this label set; call it once per label set and keep what it returns. */
  get(labels: LabelValues<L>): Cell {
    const key = this.labelNames.map((n) => String(labels[n] ?? '')).join('\u0000');
    let e = this.entries.get(key);
    if (!e) {
      e = { labels: { ...labels }, cell: new Cell(), reported: 0 };
      this.entries.set(key, e);
    }
    return e.cell;
  }

  /** A counter's collect(): adds what each cell counted since the last collection. */
  addTo(counter: Counter<L>): void {
    for (const e of this.entries.values()) {
      const delta = e.cell.value - e.reported;
      if (delta > 0) counter.inc(e.labels, delta);
      e.reported = e.cell.value;
    }
  }

  /** A gauge's collect(): sets each label set to its cell's value. */
  setOn(gauge: Gauge<L>): void {
    for (const e of this.entries.values()) gauge.set(e.labels, e.cell.value);
  }
}
