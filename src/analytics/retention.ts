// The retention pass run by analytics on its own, every RETENTION_INTERVAL_S (the pass itself, and
// `warren prune`'s, is the store's: src/store/retention.ts).
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { type RetentionSettings, retentionPass, type Store } from '../store/index.js';

/** Runs a pass every RETENTION_INTERVAL_S inside analytics (0 turns it off), one at a time. */
export class RetentionRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly store: () => Store | undefined,
    private readonly settings: RetentionSettings & { retentionIntervalS: number },
    private readonly log: Logger,
  ) {}

  start(): void {
    const s = this.settings.retentionIntervalS;
    if (s <= 0) {
      this.log.info('retention is off (RETENTION_INTERVAL_S=0): counters and ids are kept forever');
      return;
    }
    // setInterval takes at most 2^31-1 ms (about 24.8 days).
    this.timer = setInterval(() => this.tick(), Math.min(s * 1000, 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Stops the timer and ends a running pass at its next step (each step is committed or not at all). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.abort.abort();
    await this.running;
  }

  private tick(): void {
    const store = this.store();
    if (this.running || !store) return;
    this.running = this.runOnce(store).finally(() => {
      this.running = undefined;
    });
  }

  private async runOnce(store: Store): Promise<void> {
    try {
      const r = await retentionPass(store, this.settings, { signal: this.abort.signal });
      if (r.skipped) {
        this.log.debug('another process is running retention; skipped this pass');
        return;
      }
      const changed = r.idsPruned + r.minuteRows + r.hourRows > 0;
      this.log[changed ? 'info' : 'debug'](
        { idsPruned: r.idsPruned, minuteRows: r.minuteRows, hourRows: r.hourRows, ms: r.ms },
        'retention pass done',
      );
    } catch (err) {
      this.log.warn(
        { err: describe(err) },
        'retention pass failed; the next interval retries it (each step is one transaction, nothing is lost)',
      );
    }
  }
}
