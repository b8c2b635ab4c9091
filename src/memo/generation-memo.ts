// What one config version computed, kept for the next one: a stage that meets the same input again
// (the same object, or the same text) returns the same output object instead of computing it anew.
// Only two generations are held — the one being built and the one before — so what an edit stopped
// using is let go at the edit after it. Outputs are reused by identity, so every later stage keyed on
// them hits too: an edit costs what it touched, not the whole config.
export class GenerationMemo<K, V> {
  private previous = new Map<K, { readonly salt: unknown; readonly value: V }>();
  private current = new Map<K, { readonly salt: unknown; readonly value: V }>();

  /**
   * The value for `key`, computed once per generation. `salt` is anything else the value depends on
   * (compared with ===): a stored value with another salt is computed again.
   */
  get(key: K, salt: unknown, compute: () => V): V {
    const hit = this.current.get(key) ?? this.previous.get(key);
    if (hit && hit.salt === salt) {
      this.current.set(key, hit);
      return hit.value;
    }
    const entry = { salt, value: compute() };
    this.current.set(key, entry);
    return entry.value;
  }

  /** Starts a generation: what the one before last did not use is dropped. */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

/**
 * A value computed from a list of objects, kept while those objects live: the same objects in the
 * same order give the same value without computing it again (a trie of WeakMaps, one level per element).
 */
export class ListMemo<K extends object, V> {
  private readonly root = new WeakMap<K, Node<K, V>>();
  private empty: { value: V } | undefined;

  get(list: readonly K[], compute: () => V): V {
    if (list.length === 0) return (this.empty ??= { value: compute() }).value;
    let level = this.root;
    let node: Node<K, V> | undefined;
    for (const k of list) {
      node = level.get(k);
      if (!node) level.set(k, (node = { next: new WeakMap() }));
      level = node.next;
    }
    if (!('value' in node!)) node!.value = compute();
    return node!.value as V;
  }
}

interface Node<K extends object, V> {
  readonly next: WeakMap<K, Node<K, V>>;
  value?: V;
}
