// A mirror endpoint that refuses connections (or does not answer a connect) would otherwise cost a
// failing connect for every sampled request: measured, that halves the primary's throughput on one
// thread. After such a failure copies to the cluster are dropped for a short, doubling while
// (50 ms up to 1 s), counted as `mirror_unreachable`, then one copy probes again. Primaries keep
// Envoy's behaviour; this is the data path's own rule for the traffic it may shed.

const MIN_MS = 50;
const MAX_MS = 1000;

export class ConnectBackoff {
  private until = 0;
  private delay = 0;

  /** True while copies should not try to connect. */
  blocked(now: number): boolean {
    return now < this.until;
  }

  failed(now: number): void {
    this.delay = this.delay === 0 ? MIN_MS : Math.min(this.delay * 2, MAX_MS);
    this.until = now + this.delay;
  }

  succeeded(): void {
    this.delay = 0;
    this.until = 0;
  }
}
