// RabbitMQ names and their idempotent declaration (CONTRACT.md, "RabbitMQ topology").
// Declared by every service at start and after every reconnect.
import type { Channel } from 'amqplib';
import { alertDeadLetterNames, type Config, deadLetterNames } from './config.js';
import { WarrenError } from './errors.js';

export type TopologyConfig = Pick<
  Config,
  'exchange' | 'queue' | 'queueType' | 'deliveryLimit' | 'auditQueue' | 'topicPattern'
>;

/** Arguments of the main queue; a redeclare with other arguments fails, so they come from one place. */
export function queueArguments(config: TopologyConfig): Record<string, unknown> {
  const { dlx } = deadLetterNames(config);
  const args: Record<string, unknown> = { 'x-queue-type': config.queueType, 'x-dead-letter-exchange': dlx };
  if (config.queueType === 'quorum') {
    // Quorum queues count every return (including a consumer that died) toward this limit;
    // it must stay well above the restarts a valid event may live through (DESIGN.md).
    args['x-delivery-limit'] = config.deliveryLimit;
    // Dead-lettering stays at-most-once (the default): a poison message goes to the DLQ with no
    // copies. at-least-once would need overflow=reject-publish and may copy on a leader change.
  }
  return args;
}

/**
 * The control queue where reporting publishers send their accounting (README "Reconcile"): one
 * per main queue, so pipelines on other queues (tests, `warren bench`) keep their own ledgers.
 */
export function controlQueueName(config: Pick<Config, 'queue'>): string {
  return `${config.queue}.reconcile`;
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const fix = msg.includes('PRECONDITION_FAILED')
      ? ' It exists with other settings (e.g. QUEUE_TYPE or DELIVERY_LIMIT changed): delete it in the management UI or with `rabbitmqctl delete_queue`, or set the matching values.'
      : '';
    throw new WarrenError('internal', `could not declare ${what}: ${msg}.${fix}`, { cause: err });
  }
}

/**
 * Declares exchange, main queue, dead-letter exchange and queue, and the bindings.
 * The channel may be closed by the broker on a mismatch; callers use a throwaway channel.
 */
export async function declare(
  ch: Channel,
  config: TopologyConfig,
  opts: { audit?: boolean } = {},
): Promise<void> {
  const { dlx, dlq } = deadLetterNames(config);
  const type = { 'x-queue-type': config.queueType };
  await step(`exchange ${config.exchange}`, () =>
    ch.assertExchange(config.exchange, 'fanout', { durable: true }),
  );
  await step(`exchange ${dlx}`, () => ch.assertExchange(dlx, 'fanout', { durable: true }));
  await step(`queue ${dlq}`, () => ch.assertQueue(dlq, { durable: true, arguments: type }));
  await step(`binding ${dlx} -> ${dlq}`, () => ch.bindQueue(dlq, dlx, ''));
  await step(`queue ${config.queue}`, () =>
    ch.assertQueue(config.queue, { durable: true, arguments: queueArguments(config) }),
  );
  await step(`binding ${config.exchange} -> ${config.queue}`, () =>
    ch.bindQueue(config.queue, config.exchange, ''),
  );
  // Reports are small and few (one per publish tick): the same queue type as the main queue, so
  // a quorum main queue has a quorum ledger that survives what it survives.
  const control = controlQueueName(config);
  await step(`queue ${control}`, () => ch.assertQueue(control, { durable: true, arguments: type }));
  // MQTT and STOMP publishers land in amq.topic; route their topic into the fanout exchange.
  await step(`binding amq.topic -> ${config.exchange}`, () =>
    ch.bindExchange(config.exchange, 'amq.topic', config.topicPattern),
  );
  if (opts.audit) {
    await step(`queue ${config.auditQueue}`, () =>
      ch.assertQueue(config.auditQueue, { durable: true, arguments: type }),
    );
    await step(`binding ${config.exchange} -> ${config.auditQueue}`, () =>
      ch.bindQueue(config.auditQueue, config.exchange, ''),
    );
  }
}

/**
 * The alert topology (README "Alerts"): a fanout exchange analytics publishes to, confirmed; a
 * durable quorum queue for the deliverer, whose dead letters (the broker's delivery limit, or the
 * deliverer giving up, with its reason) land in `<ALERT_EXCHANGE>.dlq`. Quorum whatever QUEUE_TYPE
 * says: a firing must survive what the broker survives.
 */
export async function declareAlerts(
  ch: Channel,
  config: Pick<Config, 'alertExchange' | 'alertQueue' | 'deliveryLimit'>,
): Promise<void> {
  const { dlx, dlq } = alertDeadLetterNames(config);
  const quorum = { 'x-queue-type': 'quorum' };
  await step(`exchange ${config.alertExchange}`, () =>
    ch.assertExchange(config.alertExchange, 'fanout', { durable: true }),
  );
  await step(`exchange ${dlx}`, () => ch.assertExchange(dlx, 'fanout', { durable: true }));
  await step(`queue ${dlq}`, () => ch.assertQueue(dlq, { durable: true, arguments: quorum }));
  await step(`binding ${dlx} -> ${dlq}`, () => ch.bindQueue(dlq, dlx, ''));
  const args = { ...quorum, 'x-dead-letter-exchange': dlx, 'x-delivery-limit': config.deliveryLimit };
  await step(`queue ${config.alertQueue}`, () =>
    ch.assertQueue(config.alertQueue, { durable: true, arguments: args }),
  );
  await step(`binding ${config.alertExchange} -> ${config.alertQueue}`, () =>
    ch.bindQueue(config.alertQueue, config.alertExchange, ''),
  );
}
