// A batching consumer (DESIGN.md, "The consumer loop"): deliveries are gathered up to a batch
// size or a short wait, the handler returns one outcome per delivery, and this one wrapper
// settles them: dead-letters with nack(requeue=false) (the broker moves it through the queue's
// DLX atomically, no copy), then one ack with multiple=true for the whole batch. A handler that
// throws (a failure of our own, e.g. the store is down) gets the same batch again after a
// backoff; nothing is acked or dead-lettered meanwhile. A multiple-ack settles every outstanding
// delivery up to its tag (AMQP 0-9-1 basic.ack), so it is sent only when no delivery below it is
// still unsettled (a batch given up at shutdown); otherwise the batch is acked one by one.
import type { Channel, ChannelModel as Connection, ConsumeMessage } from 'amqplib';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import type { BrokerConnection } from './connection.js';

export type Outcome = { ack: true } | { deadLetter: string };
export const ACK: Outcome = { ack: true };

export type BatchHandler = (batch: ConsumeMessage[]) => Promise<Outcome[]> | Outcome[];

export interface ConsumerOptions {
  queue: string;
  prefetch: number;
  batchSize: number;
  batchWaitMs: number;
  handler: BatchHandler;
  log: Logger;
  /** Called when a failing batch starts or stops failing (readiness). */
  onHealth?: (healthy: boolean, err?: unknown) => void;
}

export class BatchingConsumer {
  private channel: Channel | undefined;
  private gen = 0;
  private buffer: ConsumeMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closing = false;
  private consumerTag: string | undefined;
  /** Delivery tags received on the current channel and not yet acked or nacked, in tag order. */
  private unsettled = new Set<number>();

  constructor(
    private readonly broker: BrokerConnection,
    private readonly opts: ConsumerOptions,
  ) {
    broker.onConnect((conn) => this.open(conn));
  }

  /**
   * A channel can close while its connection stays up (a channel error, or the broker cancelled
   * the consumer because its queue was deleted): start over on a new connection, which declares
   * the topology again. When the connection itself is gone, the reconnect is already under way.
   */
  private reopenLater(conn: Connection): void {
    if (this.closing) return;
    setTimeout(() => {
      if (this.closing || this.channel) return;
      this.broker.reset(conn, 'the consumer channel closed');
    }, 1000).unref();
  }

  /** Deliveries received and not yet settled (held in a batch, or waiting for one). */
  get held(): number {
    return this.unsettled.size;
  }

  get consuming(): boolean {
    return this.channel !== undefined && this.consumerTag !== undefined;
  }

  private async open(conn: Connection): Promise<void> {
    if (this.closing || this.channel) return;
    const ch = await conn.createChannel();
    const gen = ++this.gen;
    ch.on('error', (err) => this.opts.log.warn({ err: describe(err) }, 'consumer channel error'));
    ch.on('close', () => {
      if (gen !== this.gen) return;
      this.channel = undefined;
      this.consumerTag = undefined;
      // Unacked deliveries go back to the queue with the channel; drop our copies.
      this.buffer = [];
      this.unsettled = new Set();
      this.reopenLater(conn);
    });
    await ch.prefetch(this.opts.prefetch);
    this.channel = ch;
    const { consumerTag } = await ch.consume(
      this.opts.queue,
      (msg) => {
        if (msg) return this.onMessage(gen, msg);
        // basic.cancel from the broker (queue deleted or moved): start over on a new channel.
        this.opts.log.warn({ queue: this.opts.queue }, 'the broker cancelled the consumer; resubscribing');
        ch.close().catch(() => undefined);
      },
      { noAck: false },
    );
    this.consumerTag = consumerTag;
    this.opts.log.info({ queue: this.opts.queue, prefetch: this.opts.prefetch }, 'consuming');
  }

  private onMessage(gen: number, msg: ConsumeMessage): void {
    if (gen !== this.gen) return;
    this.unsettled.add(msg.fields.deliveryTag);
    this.buffer.push(msg);
    if (this.buffer.length >= this.opts.batchSize) this.kick();
    else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.opts.batchWaitMs);
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.running) this.running = this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && this.channel) {
      const gen = this.gen;
      const batch = this.buffer.splice(0, this.opts.batchSize);
      await this.processBatch(gen, batch);
    }
  }

  private async processBatch(gen: number, batch: ConsumeMessage[]): Promise<void> {
    let failures = 0;
    for (;;) {
      if (gen !== this.gen) return; // the channel is gone: the broker redelivers these
      if (this.closing && failures > 0) return; // shutting down: leave them to the broker
      try {
        const outcomes = await this.opts.handler(batch);
        if (failures > 0) this.opts.onHealth?.(true);
        this.settle(gen, batch, outcomes);
        return;
      } catch (err) {
        failures++;
        if (failures === 1) this.opts.onHealth?.(false, err);
        const delay = Math.min(5000, 50 * 2 ** Math.min(failures, 7));
        this.opts.log.warn(
          { err: describe(err), failures, retryInMs: delay },
          'batch failed; retrying the same batch',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private settle(gen: number, batch: ConsumeMessage[], outcomes: Outcome[]): void {
    const ch = this.channel;
    if (!ch || gen !== this.gen) return;
    try {
      const acks: ConsumeMessage[] = [];
      batch.forEach((msg, i) => {
        const outcome = outcomes[i] ?? ACK;
        if ('deadLetter' in outcome) {
          ch.nack(msg, false, false);
          this.unsettled.delete(msg.fields.deliveryTag);
        } else acks.push(msg);
      });
      this.ack(ch, acks);
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'could not settle a batch; the broker will redeliver it');
    }
  }

  /**
   * One frame for the batch (basic.ack multiple) when it covers only this batch's deliveries;
   * one ack each when a delivery with a lower tag is still unsettled (its outcome is not
   * committed, and a multiple-ack would settle it too).
   */
  private ack(ch: Channel, acks: ConsumeMessage[]): void {
    const last = acks.at(-1);
    if (!last) return;
    const lastTag = last.fields.deliveryTag;
    const mine = new Set(acks.map((m) => m.fields.deliveryTag));
    let foreign = false;
    for (const tag of this.unsettled) {
      if (tag > lastTag) break; // the set is in tag order: deliveries arrive in tag order
      if (!mine.has(tag)) {
        foreign = true;
        break;
      }
    }
    if (foreign) for (const m of acks) ch.ack(m, false);
    else ch.ack(last, true);
    for (const tag of mine) this.unsettled.delete(tag);
  }

  /** Stops taking deliveries, finishes the batch in hand, and closes the channel. */
  async close(): Promise<void> {
    this.closing = true;
    const ch = this.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.kick();
    await this.running;
    this.gen++;
    this.channel = undefined;
    if (ch) await ch.close().catch(() => undefined);
  }
}
