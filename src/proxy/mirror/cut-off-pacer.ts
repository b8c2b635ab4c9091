// Copies that time out together are cut off a few at a time. A mirror that never answers holds the
// 1024 copies in flight its cap allows; they got their connections within a few hundred ms, so they
// reach max_stream_duration within as few, and cutting one off costs an abort, a reset and (for the
// copy waiting behind it) a new connection. Done all at once, that is a hundred milliseconds and
// more in which no primary is served; paced, each batch runs in its own turn of the event loop and
// the primaries' I/O runs between batches. A copy is cut off at most a few turns late.

/** How many copies one turn cuts off. */
const PER_TURN = 16;

export class CutOffPacer {
  private queue: Array<() => void> = [];
  private next = 0;
  private scheduled = false;

  add(cutOff: () => void): void {
    this.queue.push(cutOff);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    const end = Math.min(this.queue.length, this.next + PER_TURN);
    while (this.next < end) this.queue[this.next++]!();
    if (this.next < this.queue.length) {
      setImmediate(this.turn);
      return;
    }
    this.queue = [];
    this.next = 0;
    this.scheduled = false;
  };
}
