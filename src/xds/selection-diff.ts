// What it takes a proxy to go from holding one selection of resources to holding another: the
// resources that are new or at another version, and the names that are gone. Worked out once per
// pair of selections: streams that hold the same thing and should hold the same thing (a fleet after
// an edit) share one answer, and so one response (xds-stream.ts keeps its bytes with it).
import type { EncodedResource } from './encoded-resource.js';

export interface SelectionDiff {
  readonly changed: readonly EncodedResource[];
  readonly removed: readonly string[];
}

type Selection = ReadonlyMap<string, EncodedResource>;

const diffs = new WeakMap<Selection, WeakMap<Selection, SelectionDiff>>();

export function selectionDiff(from: Selection, to: Selection): SelectionDiff {
  let byTarget = diffs.get(from);
  if (!byTarget) diffs.set(from, (byTarget = new WeakMap()));
  let d = byTarget.get(to);
  if (!d) {
    const changed = [...to.values()].filter((r) => from.get(r.name)?.version !== r.version);
    const removed = [...from.keys()].filter((n) => !to.has(n));
    byTarget.set(to, (d = { changed, removed }));
  }
  return d;
}

const derived = new WeakMap<object, Map<string, unknown>>();

/** A value derived from `of` and `key`, made once and shared (the response content each protocol builds from a diff or selection). */
export function sharedBy<T>(of: object, key: string, make: () => T): T {
  let byKey = derived.get(of);
  if (!byKey) derived.set(of, (byKey = new Map()));
  if (!byKey.has(key)) byKey.set(key, make());
  return byKey.get(key) as T;
}
