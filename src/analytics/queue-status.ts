// GET /api/v1/status's queue figures: cola_analiticas and its dead-letter queue, read on a channel
// of their own (a failed check closes only that channel), with the dead letters sorted into valid
// and invalid by a cached scan (DeadLetterCensus).
import type { Channel, ChannelModel } from 'amqplib';
import { DeadLetterCensus } from '../audit/index.js';
import type { BrokerConnection } from '../broker/index.js';
import { type Config, deadLetterNames } from '../config.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { topicPrefix } from '../topic.js';
import type { QueueStatus } from './api.js';
import type { Metrics } from './metrics.js';

export class QueueWatch {
  private channel: Channel | undefined;
  private readonly census: DeadLetterCensus;

  constructor(
    private readonly config: Config,
    private readonly broker: BrokerConnection,
    private readonly metrics: Pick<Metrics, 'queueMessages' | 'deadLetters'>,
    private readonly log: Logger,
  ) {
    this.census = new DeadLetterCensus(deadLetterNames(config).dlq, topicPrefix(config.topicPattern));
  }

  /** On every (re)connection: a fresh channel for the checks. */
  async attach(conn: ChannelModel): Promise<void> {
    const status = await conn.createChannel();
    status.on('error', () => undefined);
    status.on('close', () => (this.channel = undefined));
    this.channel = status;
  }

  /** The checks' channel while connected (reconcile reads queue depths on it too). */
  readonly checks = (): Channel | undefined => this.channel;

  /** The figures now; null where RabbitMQ cannot say. */
  readonly status = async (): Promise<QueueStatus> => {
    const { config, metrics } = this;
    const { dlq } = deadLetterNames(config);
    const out: QueueStatus = {
      name: config.queue,
      messages: null,
      consumers: null,
      deadLetters: null,
      deadLettersDetail: null,
    };
    const ch = this.channel;
    if (!ch) return out;
    try {
      const q = await ch.checkQueue(config.queue);
      out.messages = q.messageCount;
      out.consumers = q.consumerCount;
      out.deadLetters = (await ch.checkQueue(dlq)).messageCount;
      metrics.queueMessages.set(out.messages);
      metrics.deadLetters.set(out.deadLetters);
      const conn = this.broker.connection;
      if (conn) out.deadLettersDetail = await this.census.kinds(conn, out.deadLetters);
    } catch (err) {
      this.log.debug({ err: describe(err) }, 'queue status unavailable');
    }
    return out;
  };
}
