// Which reports are confirmed, for publishes that wait until "every report queued so far" is
// (publisher.ts, accounting.ts). Reports are numbered as they are queued; a waiter taken when
// report n was the last queued is answered once reports 1..n are all confirmed, whatever order
// their confirms come in (a report sent again after a reconnect can be confirmed after a later one).
// One counter and a short list instead of a Promise.all over the reports in flight per publish:
// on ingest's single-event path that is one per request.

interface Waiter {
  through: number;
  done: () => void;
}

export class ReportCoverage {
  private queued = 0;
  /** Numbers of the reports queued and not yet confirmed, ascending. */
  private readonly open: number[] = [];
  /** Ascending by `through` (each is the queued count when it was taken). */
  private readonly waiters: Waiter[] = [];

  /** A report was queued: its number. */
  add(): number {
    this.open.push(++this.queued);
    return this.queued;
  }

  /** Report n is confirmed: answers every waiter whose reports are now all confirmed. */
  confirmed(n: number): void {
    const i = this.open.indexOf(n);
    if (i >= 0) this.open.splice(i, 1);
    const low = this.open[0] ?? Number.POSITIVE_INFINITY;
    let k = 0;
    while (k < this.waiters.length && this.waiters[k]!.through < low) k++;
    for (const w of this.waiters.splice(0, k)) w.done();
  }

  /**
   * Calls done once every report queued so far is confirmed (at once if they are). Returns a
   * function that withdraws the wait (its caller gave up).
   */
  wait(done: () => void): () => void {
    const through = this.queued;
    if ((this.open[0] ?? Number.POSITIVE_INFINITY) > through) {
      done();
      return () => undefined;
    }
    const w = { through, done };
    this.waiters.push(w);
    return () => {
      const i = this.waiters.indexOf(w);
      if (i >= 0) this.waiters.splice(i, 1);
    };
  }
}
