// The alert deliverer (`warren alerts deliver`, README "Alerts" > "Delivery"): consumes the alert
// queue and POSTs each firing and resolution to its webhook, retrying with backoff, and
// dead-letters what cannot be delivered to `<ALERT_EXCHANGE>.dlq` with the reason. It needs no
// store: analytics renders and signs every body before publishing it.
import type { ChannelModel as Connection } from 'amqplib';
import { BrokerConnection, ConfirmedPublisher } from '../broker/index.js';
import { alertDeadLetterNames, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { declareAlerts } from '../topology.js';
import { type Delivery, DeliveryConsumer } from './consumer.js';
import { Inbox } from './inbox.js';
import { type JobStats, Jobs } from './jobs.js';

/**
 * Alerts held at once. Each is held unacked while it is retried, so this is how many receivers
 * can be failing before the ones behind them wait.
 */
export const ALERT_PREFETCH = 32;

/** How long a stop waits for POSTs under way. */
const STOP_GRACE_MS = 7000;

export interface Deliverer {
  broker: BrokerConnection;
  readonly stats: JobStats & { active: number };
  /** Subscribed to the alert queue (false while RabbitMQ is away). */
  readonly consuming: boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function build(config: Config, log: Logger): Deliverer {
  const broker = new BrokerConnection({
    urls: config.amqpUrls,
    log: log.child({ part: 'broker' }),
    name: 'warren-alerts',
  });
  const topology = async (conn: Connection) => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a declare mismatch rejects the call below as well
    await declareAlerts(ch, config);
    await ch.close();
  };
  // Registered first: the queue exists before the consumer subscribes, after every reconnect.
  broker.onConnect(topology);
  const publisher = new ConfirmedPublisher(broker, {
    exchange: alertDeadLetterNames(config).dlx,
    window: ALERT_PREFETCH,
    maxPending: Number.MAX_SAFE_INTEGER,
    failFast: false,
    log: log.child({ part: 'dead-letters' }),
    // A dead letter the broker returned (the DLQ was deleted or unbound): declare it again.
    redeclare: topology,
  });
  // Acks go through the consumer, on the channel each delivery came on.
  const acker = { ack: (d: Delivery) => consumer.ack(d) };
  const jobs = new Jobs(config, acker, new Inbox(publisher), log.child({ part: 'webhooks' }));
  const consumer = new DeliveryConsumer(broker, {
    queue: config.alertQueue,
    prefetch: ALERT_PREFETCH,
    log: log.child({ part: 'consumer' }),
    onDelivery: (d) => jobs.take(d),
  });

  return {
    broker,
    get stats() {
      return { ...jobs.stats, active: jobs.active };
    },
    get consuming() {
      return consumer.consuming;
    },
    async start() {
      broker.start();
      log.info(
        {
          queue: config.alertQueue,
          dlq: alertDeadLetterNames(config).dlq,
          maxAttempts: config.alertMaxAttempts,
        },
        'delivering alert webhooks',
      );
    },
    async close() {
      // No new deliveries; jobs between attempts stop, a POST under way may finish, within the
      // 10 s that `warren up` and `docker compose stop` give before SIGKILL. A POST cut short
      // leaves its alert unacked: it is sent again after the restart (at-least-once).
      await consumer.cancel();
      await jobs.close(Math.min(config.alertTimeoutMs + 1000, STOP_GRACE_MS));
      await publisher.flush(2000);
      await consumer.close();
      await publisher.close();
      await broker.close();
    },
  };
}
