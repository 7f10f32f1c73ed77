// The store as the analytics service sees it, with its health kept in one place: opened in the
// background (analytics stays up while the store is away), marked failing by the consumer when a
// batch cannot commit, and pinged every 2 s so readiness follows it even when no batch arrives.
import type { Config } from '../config.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { createStore, type Store } from '../store/index.js';
import type { Metrics } from './metrics.js';

const PING_INTERVAL_MS = 2000;

export class StoreHealth {
  private store: Store | undefined;
  private up = false;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: Pick<Config, 'databaseUrl'>,
    private readonly metrics: Pick<Metrics, 'storeUp'>,
    private readonly log: Logger,
  ) {}

  /** Whether the store answers (readiness). */
  get healthy(): boolean {
    return this.up;
  }

  /** The store while it answers; undefined while it is away, so counting and retention wait. */
  readonly usable = (): Store | undefined => (this.up ? this.store : undefined);

  /** The store once opened, answering or not (a read reports its own failure). */
  readonly opened = (): Store | undefined => this.store;

  private set(up: boolean): void {
    this.up = up;
    this.metrics.storeUp.set(up ? 1 : 0);
  }

  /** The consumer's word after a batch: committed, or the store failed it (nothing acked). */
  readonly onBatch = (healthy: boolean, err?: unknown): void => {
    this.set(healthy && this.store !== undefined);
    if (!healthy) {
      this.log.warn(
        { err: describe(err) },
        'the store is failing; holding the batch and retrying (nothing acked)',
      );
    } else this.log.info('the store answers again');
  };

  /** Opens and migrates the store, retrying with backoff until it answers or close() is called. */
  async open(): Promise<void> {
    let attempt = 0;
    while (!this.closing) {
      try {
        const s = createStore(this.config.databaseUrl);
        await s.migrate();
        this.store = s;
        this.set(true);
        this.log.info({ store: s.kind }, 'store ready');
        return;
      } catch (err) {
        attempt++;
        if (attempt === 1) {
          this.log.warn(
            { err: describe(err) },
            'the store is not reachable; retrying in the background (check DATABASE_URL)',
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  /** Pings the opened store every 2 s: readiness follows it even when no batch arrives. */
  watch(): void {
    this.timer = setInterval(() => {
      const store = this.store;
      if (!store) return;
      store.ping().then(
        () => {
          if (!this.up) this.log.info('the store answers again');
          this.set(true);
        },
        (err) => {
          if (this.up) this.log.warn({ err: describe(err) }, 'the store stopped answering');
          this.set(false);
        },
      );
    }, PING_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops opening and pinging; close() closes the store itself. */
  stop(): void {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
  }

  async close(): Promise<void> {
    await this.store?.close().catch(() => undefined);
  }
}
