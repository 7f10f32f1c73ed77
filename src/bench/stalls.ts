// What the latency stage keeps about its tail (issue #21: runs stalled for about 0.9 s): the
// windows in which events took longer than a threshold to become visible, each with how long the
// broker took to confirm them (a stall the confirms share is the broker's; one they do not share
// is after the broker: analytics, its store), and the moments the local broker's quorum WAL rolled
// over, polled from its files (broker-proc.ts), to set beside them.
import { brokerWal } from './broker-proc.js';
import { round } from './util.js';

export interface StallWindow {
  /** Seconds from the stage's start to the first and last event sent of the window. */
  fromS: number;
  toS: number;
  events: number;
  /** The worst publish → visible, and the worst publish → confirmed, in the window (ms). */
  maxMs: number;
  confirmMaxMs: number;
}

/**
 * Runs of consecutive events (in send order) slower than thresholdMs to become visible, the
 * first `limit` of them. Times are performance.now() values; t0 is the stage's start.
 */
export function stallWindows(
  t: { sentAt: Float64Array; visibleAt: Float64Array; confirmedAt: Float64Array; t0: number },
  thresholdMs: number,
  limit = 10,
): StallWindow[] {
  const out: StallWindow[] = [];
  let w: StallWindow | undefined;
  for (let k = 0; k < t.sentAt.length; k++) {
    const ms = t.visibleAt[k]! - t.sentAt[k]!;
    if (ms <= thresholdMs) {
      w = undefined;
      continue;
    }
    const at = (t.sentAt[k]! - t.t0) / 1000;
    const confirmMs = t.confirmedAt[k]! - t.sentAt[k]!;
    if (!w) {
      if (out.length >= limit) break;
      w = { fromS: at, toS: at, events: 0, maxMs: 0, confirmMaxMs: 0 };
      out.push(w);
    }
    w.toS = at;
    w.events++;
    w.maxMs = Math.max(w.maxMs, ms);
    w.confirmMaxMs = Math.max(w.confirmMaxMs, confirmMs);
  }
  return out.map((x) => ({
    fromS: round(x.fromS, 2),
    toS: round(x.toS, 2),
    events: x.events,
    maxMs: round(x.maxMs),
    confirmMaxMs: round(x.confirmMaxMs),
  }));
}

export interface WalRollover {
  /** Seconds from the stage's start to when the new WAL file was first seen (polled). */
  atS: number;
  file: number;
  /** Size of the file it replaced when last seen (bytes). */
  bytesBefore: number;
}

/** Polls the local broker's WAL every `everyMs` and notes each roll-over, while running. */
export class WalWatch {
  readonly rollovers: WalRollover[] = [];
  private last: ReturnType<typeof brokerWal>;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number | undefined,
    private readonly t0: number,
    everyMs = 50,
  ) {
    this.last = brokerWal(pid);
    if (this.last) this.timer = setInterval(() => this.poll(), everyMs);
  }

  /** Whether the broker's WAL can be seen at all (a local broker whose files are readable). */
  get visible(): boolean {
    return this.last !== undefined;
  }

  private poll(): void {
    const now = brokerWal(this.pid);
    if (!now || !this.last) return;
    if (now.file !== this.last.file)
      this.rollovers.push({
        atS: round((performance.now() - this.t0) / 1000, 2),
        file: now.file,
        bytesBefore: this.last.bytes,
      });
    this.last = now;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.poll();
  }
}
