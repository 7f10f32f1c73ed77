// The alert outbox's publisher (README "Alerts"): every firing and resolution recorded in the store
// and not yet confirmed by the broker is published to ALERT_EXCHANGE (persistent, mandatory,
// confirmed; message id = alert id), then marked published. A crash or a broker outage between
// the commit and the confirm leaves the row unpublished: it is published again, with the same id,
// after the restart or reconnect (at-least-once; receivers dedupe by id). Rows are claimed with a
// short lease first, so two analytics processes on one database do not publish the same row at once.

import type { BrokerConnection } from '../broker/index.js';
import { ConfirmedPublisher } from '../broker/index.js';
import type { Config } from '../config.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { alertsOf, type Store } from '../store/index.js';
import { declareAlerts } from '../topology.js';

/** Messages claimed per round; the outbox is small (one row per firing or resolution). */
const BATCH = 100;
/** How long a claim holds: longer than a publish may wait for its confirms (CONFIRM_MS). */
const LEASE_MS = 15_000;
const CONFIRM_MS = 10_000;

export class AlertOutbox {
  private readonly publisher: ConfirmedPublisher;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private failing = false;

  constructor(
    private readonly config: Pick<Config, 'alertExchange' | 'alertQueue' | 'deliveryLimit' | 'alertEvalMs'>,
    broker: BrokerConnection,
    private readonly store: () => Store | undefined,
    private readonly log: Logger,
  ) {
    this.publisher = new ConfirmedPublisher(broker, {
      exchange: config.alertExchange,
      window: 50,
      maxPending: 10 * BATCH,
      // Refused at once while disconnected: the rows stay in the store until the broker is back.
      failFast: true,
      log,
      redeclare: async (conn) => {
        const ch = await conn.createChannel();
        await declareAlerts(ch, config);
        await ch.close();
      },
    });
    broker.on('connected', () => this.kick());
  }

  start(): void {
    this.stopped = false;
    const every = () => {
      this.timer = setTimeout(() => {
        this.kick();
        every();
      }, this.config.alertEvalMs);
      this.timer.unref();
    };
    every();
    this.kick();
  }

  /** Publish what is pending now (a firing was just recorded, or the broker came back). */
  readonly kick = (): void => {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  };

  /** Rounds of claim, publish, mark, until nothing is left (or a round fails). */
  private async drain(): Promise<void> {
    const store = this.store();
    const a = store && alertsOf(store);
    if (!a || !this.publisher.ready) return;
    let claimed: string[] = [];
    try {
      for (;;) {
        const now = Date.now();
        const rows = await a.claim(BATCH, now, now + LEASE_MS);
        if (rows.length === 0) break;
        claimed = rows.map((r) => r.id);
        await this.publisher.publishRaw(
          rows.map((r) => ({
            body: Buffer.from(r.message),
            props: {
              contentType: 'application/json',
              persistent: true,
              messageId: r.id,
              type: r.id.endsWith(':resolved') ? 'resolved' : 'fired',
              timestamp: Math.floor(now / 1000),
            },
          })),
          CONFIRM_MS,
        );
        await a.markPublished(claimed, Date.now());
        claimed = [];
        this.log.info({ alerts: rows.map((r) => r.id) }, 'alerts published');
        if (rows.length < BATCH) break;
      }
      this.failing = false;
    } catch (err) {
      // Left unpublished: the next round (timer, reconnect) publishes them again, same ids.
      if (!this.failing) this.log.warn({ err: describe(err) }, 'could not publish alerts; will retry');
      this.failing = true;
      await a.release(claimed).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.publisher.close();
  }
}
