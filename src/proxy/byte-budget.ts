// A byte budget shared by many holders: the mirror copies' unread request bodies, and the response
// bodies kept for comparison. A holder that cannot take more gives up (drops its copy or capture).

/** Bytes held across all requests, reported to `onChange` (a gauge) on every change. */
export class ByteBudget {
  private used = 0;
  constructor(
    private readonly limit: number,
    private readonly onChange: (used: number) => void,
  ) {}

  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    this.onChange(this.used);
    return true;
  }

  give(n: number): void {
    this.used -= n;
    this.onChange(this.used);
  }
}
