// A byte budget shared by many holders: the mirror copies' unread request bodies, and the response
// bodies kept for comparison. A holder that cannot take more gives up (drops its copy or capture).

/** Bytes held across all requests; `used` is read by a gauge when metrics are read. */
export class ByteBudget {
  private held = 0;
  constructor(private readonly limit: number) {}

  get used(): number {
    return this.held;
  }

  take(n: number): boolean {
    if (this.held + n > this.limit) return false;
    this.held += n;
    return true;
  }

  give(n: number): void {
    this.held -= n;
  }
}
