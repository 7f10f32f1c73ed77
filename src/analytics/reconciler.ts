// GET /api/v1/reconcile's answer as the running service gives it (reconcile.ts computes it): the
// store's ledger, the DLQ's dead letters (a cached scan) and what is still on its way (the main and
// control queues' depths, and what the consumers hold), read on the queue watch's channel.
import type { Channel, ChannelModel } from 'amqplib';
import type { BatchingConsumer, BrokerConnection } from '../broker/index.js';
import { type Config, deadLetterNames } from '../config.js';
import { WarrenError } from '../errors.js';
import { type Filter, reconcileOf, type Store } from '../store/index.js';
import { topicPrefix } from '../topic.js';
import { controlQueueName } from '../topology.js';
import { copiesCounted, type DeadLetterLedger, reconcile, scanDeadLetters } from './reconcile.js';
import type { ReconcileAnswer } from './shapes.js';

/** How many dead letters one answer scans at most; the rest are reported as unscanned. */
const SCAN_LIMIT = 10_000;
/** A scan is reused while the DLQ's depth is unchanged, for at most this long. */
const SCAN_TTL_MS = 5000;

export interface ReconcilerParts {
  config: Config;
  broker: BrokerConnection;
  /** The store once opened (StoreHealth.opened). */
  store: () => Store | undefined;
  /** The channel the queue checks run on (QueueWatch.channel). */
  channel: () => Channel | undefined;
  /** The main queue's consumer and the control queue's: what they hold is in flight. */
  consumer: Pick<BatchingConsumer, 'held'>;
  reports: Pick<BatchingConsumer, 'held'>;
}

export class Reconciler {
  private deadCache: { depth: number; at: number; ledger: Promise<DeadLetterLedger> } | undefined;

  constructor(private readonly parts: ReconcilerParts) {}

  readonly answer = async (filter: Filter): Promise<ReconcileAnswer> => {
    const { config, broker, consumer, reports } = this.parts;
    const s = this.parts.store();
    const ledger = s && reconcileOf(s);
    const ch = this.parts.channel();
    const conn = broker.connection;
    if (!ledger) {
      throw new WarrenError('store_unavailable', 'The store is not available yet; retry shortly.', {
        status: 503,
        retryAfterS: 1,
      });
    }
    if (!ch || !conn) {
      // The DLQ and the queues in flight are part of the answer: without RabbitMQ it is not one.
      throw new WarrenError(
        'broker_unavailable',
        'RabbitMQ is not connected; reconcile needs it. Retry shortly.',
        {
          status: 503,
          retryAfterS: 1,
        },
      );
    }
    // In flight first, then the rows: what moves in between makes the answer look more settled
    // than it is only for work that was in flight when it started.
    const main = (await ch.checkQueue(config.queue)).messageCount;
    const control = (await ch.checkQueue(controlQueueName(config))).messageCount;
    const inFlight = { events: main + consumer.held, reports: control + reports.held };
    const dead = await copiesCounted(await this.deadLetters(ch, conn), (keys) => ledger.countedPubs(keys));
    return reconcile(filter, await ledger.rows(filter), dead, inFlight);
  };

  /** The DLQ's part, scanned again when its depth changed or after SCAN_TTL_MS. */
  private async deadLetters(ch: Channel, conn: ChannelModel): Promise<DeadLetterLedger> {
    const { config } = this.parts;
    const { dlq } = deadLetterNames(config);
    const depth = (await ch.checkQueue(dlq)).messageCount;
    if (depth === 0) return { rows: new Map(), unscanned: 0, tagged: [] };
    const c = this.deadCache;
    if (!c || c.depth !== depth || Date.now() - c.at > SCAN_TTL_MS) {
      const ledger = scanDeadLetters(conn, dlq, topicPrefix(config.topicPattern), SCAN_LIMIT);
      this.deadCache = { depth, at: Date.now(), ledger };
      ledger.catch(() => (this.deadCache = undefined));
      return ledger;
    }
    return c.ledger;
  }
}
