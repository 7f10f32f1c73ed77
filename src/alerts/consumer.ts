// The deliverer's consumer: manual acks, a prefetch window, one delivery at a time handed on as
// it arrives (not in batches: each webhook call settles on its own time, and a slow receiver must
// not hold the others). A delivery remembers the channel it came on: an ack is only ever sent on
// that channel (a delivery tag means nothing on another one), and after the channel closed the
// broker hands the message out again, to whoever consumes.
import type { Channel, ChannelModel as Connection, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../broker/index.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';

export interface Delivery {
  msg: ConsumeMessage;
  /** The channel generation it arrived on. */
  gen: number;
}

export interface DeliveryConsumerOptions {
  queue: string;
  prefetch: number;
  log: Logger;
  onDelivery: (d: Delivery) => void;
}

export class DeliveryConsumer {
  private channel: Channel | undefined;
  private gen = 0;
  private tag: string | undefined;
  private closing = false;

  constructor(
    private readonly broker: BrokerConnection,
    private readonly opts: DeliveryConsumerOptions,
  ) {
    broker.onConnect((conn) => this.open(conn));
  }

  get consuming(): boolean {
    return this.channel !== undefined && this.tag !== undefined;
  }

  private async open(conn: Connection): Promise<void> {
    if (this.closing || this.channel) return;
    const ch = await conn.createChannel();
    const gen = ++this.gen;
    ch.on('error', (err) => this.opts.log.warn({ err: describe(err) }, 'alert consumer channel error'));
    ch.on('close', () => {
      if (gen !== this.gen) return;
      // Every unacked delivery of this channel is back in the queue: none of them may be acked now.
      this.gen++;
      this.channel = undefined;
      this.tag = undefined;
      this.reopenLater(conn);
    });
    await ch.prefetch(this.opts.prefetch);
    this.channel = ch;
    const { consumerTag } = await ch.consume(
      this.opts.queue,
      (msg) => {
        if (msg) {
          if (gen === this.gen) this.deliver({ msg, gen });
          return;
        }
        // basic.cancel from the broker (the queue was deleted): start over on a new channel.
        this.opts.log.warn(
          { queue: this.opts.queue },
          'the broker cancelled the alert consumer; resubscribing',
        );
        ch.close().catch(() => undefined);
      },
      { noAck: false },
    );
    this.tag = consumerTag;
    this.opts.log.info({ queue: this.opts.queue, prefetch: this.opts.prefetch }, 'consuming alerts');
  }

  private deliver(d: Delivery): void {
    try {
      this.opts.onDelivery(d);
    } catch (err) {
      // Never seen; if it were, the delivery stays unacked until its channel closes, not lost.
      this.opts.log.error({ err: describe(err) }, 'handing an alert on failed');
    }
  }

  /**
   * A channel that closed while its connection stayed up (a channel error, a consumer cancelled,
   * RabbitMQ's consumer_timeout): a new connection declares the topology again and reopens it.
   */
  private reopenLater(conn: Connection): void {
    if (this.closing) return;
    setTimeout(() => {
      if (this.closing || this.channel) return;
      this.broker.reset(conn, 'the alert consumer channel closed');
    }, 1000).unref();
  }

  /** Acks d if its channel is still the open one; false when the broker will hand it out again. */
  ack(d: Delivery): boolean {
    const ch = this.channel;
    if (!ch || d.gen !== this.gen) return false;
    try {
      ch.ack(d.msg);
      return true;
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'could not ack an alert; the broker will redeliver it');
      return false;
    }
  }

  /** Stops taking deliveries; those held stay held until close(). */
  async cancel(): Promise<void> {
    this.closing = true;
    const ch = this.channel;
    if (ch && this.tag) await ch.cancel(this.tag).catch(() => undefined);
    this.tag = undefined;
  }

  /** Closes the channel: whatever is still unacked goes back to the queue. */
  async close(): Promise<void> {
    await this.cancel();
    const ch = this.channel;
    this.gen++;
    this.channel = undefined;
    if (ch) await ch.close().catch(() => undefined);
  }
}
