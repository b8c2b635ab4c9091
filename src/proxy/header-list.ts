// Request headers as Envoy's header map holds them: an ordered list of (lower-case name, value)
// entries in which a name may repeat. Node's req.headers folds repeats, which loses what Envoy keeps.

export class HeaderList {
  private constructor(private readonly entries: Array<[string, string]>) {}

  /** From node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) entries.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
    return new HeaderList(entries);
  }

  clone(): HeaderList {
    return new HeaderList(this.entries.map(([k, v]) => [k, v]));
  }

  values(name: string): string[] {
    const out: string[] = [];
    for (const [k, v] of this.entries) if (k === name) out.push(v);
    return out;
  }

  /** Every name present, once each, in order of first appearance. */
  names(): string[] {
    return [...new Set(this.entries.map(([k]) => k))];
  }

  first(name: string): string | undefined {
    return this.entries.find(([k]) => k === name)?.[1];
  }

  has(name: string): boolean {
    return this.entries.some(([k]) => k === name);
  }

  remove(name: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]![0] === name) this.entries.splice(i, 1);
  }

  append(name: string, value: string): void {
    this.entries.push([name, value]);
  }

  /** Replaces every entry of `name` with one, in the place of the first (or at the end). */
  set(name: string, value: string): void {
    const at = this.entries.findIndex(([k]) => k === name);
    if (at < 0) {
      this.entries.push([name, value]);
      return;
    }
    this.remove(name);
    this.entries.splice(at, 0, [name, value]);
  }

  /** [name, value, name, value, …], the form undici takes without folding repeats. */
  toFlat(): string[] {
    return this.entries.flat();
  }
}
