// Request headers as Envoy's header map holds them: an ordered list of (lower-case name, value)
// entries in which a name may repeat. Node's req.headers folds repeats, which loses what Envoy keeps.
// Stored flat ([name, value, name, value, …]), the form node gives and undici takes, so a request's
// headers are neither split into pairs on the way in nor joined on the way out.

export class HeaderList {
  private constructor(private readonly flat: string[]) {}

  /** From node's `rawHeaders` ([name, value, name, value, …]). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const flat = new Array<string>(raw.length & ~1);
    for (let i = 0; i < flat.length; i += 2) {
      flat[i] = raw[i]!.toLowerCase();
      flat[i + 1] = raw[i + 1]!;
    }
    return new HeaderList(flat);
  }

  clone(): HeaderList {
    return new HeaderList(this.flat.slice());
  }

  values(name: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.flat.length; i += 2) if (this.flat[i] === name) out.push(this.flat[i + 1]!);
    return out;
  }

  /** Every name present, once each, in order of first appearance. */
  names(): string[] {
    const out = new Set<string>();
    for (let i = 0; i < this.flat.length; i += 2) out.add(this.flat[i]!);
    return [...out];
  }

  first(name: string): string | undefined {
    for (let i = 0; i < this.flat.length; i += 2) if (this.flat[i] === name) return this.flat[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    for (let i = 0; i < this.flat.length; i += 2) if (this.flat[i] === name) return true;
    return false;
  }

  remove(name: string): void {
    if (this.has(name)) this.removeWhere((n) => n === name);
  }

  /** Removes every entry whose name `drop` says so, in one pass. */
  removeWhere(drop: (name: string) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.flat.length; i += 2) {
      const name = this.flat[i]!;
      if (drop(name)) continue;
      this.flat[kept] = name;
      this.flat[kept + 1] = this.flat[i + 1]!;
      kept += 2;
    }
    this.flat.length = kept;
  }

  append(name: string, value: string): void {
    this.flat.push(name, value);
  }

  /** Replaces every entry of `name` with one, in the place of the first (or at the end). */
  set(name: string, value: string): void {
    let at = 0;
    while (at < this.flat.length && this.flat[at] !== name) at += 2;
    if (at >= this.flat.length) {
      this.flat.push(name, value);
      return;
    }
    this.flat[at + 1] = value;
    let kept = at + 2;
    for (let i = at + 2; i < this.flat.length; i += 2) {
      if (this.flat[i] === name) continue;
      this.flat[kept] = this.flat[i]!;
      this.flat[kept + 1] = this.flat[i + 1]!;
      kept += 2;
    }
    this.flat.length = kept;
  }

  /**
   * [name, value, name, value, …], the form undici takes without folding repeats. It is the list's
   * own array, handed over as it is: call it once the headers are final.
   */
  toFlat(): string[] {
    return this.flat;
  }
}
