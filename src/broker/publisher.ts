// A confirmed publisher with a bounded window of messages in flight (RabbitMQ docs, "Publisher
// Confirms": handle confirms asynchronously, never one await per message). On connection loss
// every unconfirmed message is unknown: it is published again, with the same id, after the
// reconnect, unless its batch's deadline has passed (then its caller gets an error).
import type { ConfirmChannel, ChannelModel as Connection, Options } from 'amqplib';
import { BrokerUnavailableError, describe } from '../errors.js';
import { type Event, serialize } from '../event.js';
import type { Logger } from '../log.js';
import type { BrokerConnection } from './connection.js';

interface Batch {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Item {
  body: Buffer;
  props: Options.Publish;
  batch: Batch;
  /** Which channel generation it was last sent on; confirms from an older one are ignored. */
  gen: number;
}

export interface PublisherOptions {
  exchange: string;
  /** Messages published but not yet confirmed, at most. */
  window: number;
  /** Messages waiting or in flight, at most; beyond it publish() refuses at once. */
  maxPending: number;
  /** Refuse at once while disconnected instead of waiting for the broker (HTTP gateway). */
  failFast: boolean;
  log: Logger;
}

/** AMQP properties every Warren publisher sets (CONTRACT.md, "Event"). */
export function eventProperties(event: Event): Options.Publish {
  return {
    contentType: 'application/json',
    persistent: true,
    messageId: event.id,
    type: event.evento,
    appId: event.cliente,
    timestamp: Math.floor(Date.now() / 1000),
  };
}

export class ConfirmedPublisher {
  private channel: ConfirmChannel | undefined;
  private gen = 0;
  private readonly queue: Item[] = [];
  private inflight = 0;
  private waitingDrain = false;
  private readonly idleWaiters: (() => void)[] = [];

  private closed = false;

  constructor(
    private readonly broker: BrokerConnection,
    private readonly opts: PublisherOptions,
  ) {
    broker.onConnect((conn) => this.openChannel(conn));
  }

  get ready(): boolean {
    return this.channel !== undefined;
  }

  /** Messages waiting to be sent or confirmed. */
  get pending(): number {
    return this.queue.length + this.inflight;
  }

  private async openChannel(conn: Connection): Promise<void> {
    if (this.closed || this.channel) return;
    const ch = await conn.createConfirmChannel();
    const gen = ++this.gen;
    ch.on('error', (err) => this.opts.log.warn({ err: describe(err) }, 'publisher channel error'));
    ch.on('close', () => {
      if (gen !== this.gen) return;
      this.onChannelClosed();
      // A channel error (e.g. the exchange was deleted) closes the channel, not the connection:
      // start over on a new connection, which declares the topology again.
      setTimeout(() => {
        if (this.closed || this.channel) return;
        this.broker.reset(conn, 'the publisher channel closed');
      }, 1000).unref();
    });
    ch.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
    this.channel = ch;
    this.inflight = 0;
    this.pump();
  }

  private onChannelClosed(): void {
    this.channel = undefined;
    this.waitingDrain = false;
    this.gen++;
    // amqplib fails the callbacks of unconfirmed messages with "channel closed"; they were
    // requeued there (see send). Nothing else to do until the connection comes back.
  }

  /** Publishes raw bodies; resolves when the broker confirmed every one of them. */
  publishRaw(messages: { body: Buffer; props: Options.Publish }[], deadlineMs?: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.opts.failFast && !this.channel) {
      return Promise.reject(new BrokerUnavailableError('RabbitMQ is not connected; retry shortly'));
    }
    if (this.pending + messages.length > this.opts.maxPending) {
      return Promise.reject(
        new BrokerUnavailableError('too many events are waiting for broker confirms; retry shortly'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const batch: Batch = { remaining: messages.length, settled: false, resolve, reject, timer: undefined };
      if (deadlineMs !== undefined) {
        batch.timer = setTimeout(() => {
          this.settle(
            batch,
            new BrokerUnavailableError(`the broker did not confirm within ${deadlineMs} ms`),
          );
        }, deadlineMs);
      }
      for (const m of messages) this.queue.push({ body: m.body, props: m.props, batch, gen: -1 });
      this.pump();
    });
  }

  /** Publishes events (ids already filled); resolves when every one is confirmed. */
  publish(events: Event[], deadlineMs?: number): Promise<void> {
    return this.publishRaw(
      events.map((e) => ({ body: serialize(e), props: eventProperties(e) })),
      deadlineMs,
    );
  }

  private settle(batch: Batch, err?: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    if (batch.timer) clearTimeout(batch.timer);
    if (err) batch.reject(err);
    else batch.resolve();
  }

  private pump(): void {
    const ch = this.channel;
    while (ch && !this.waitingDrain && this.inflight < this.opts.window && this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (item.batch.settled) continue; // its caller has given up (deadline)
      this.send(ch, item);
    }
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private send(ch: ConfirmChannel, item: Item): void {
    const gen = this.gen;
    item.gen = gen;
    this.inflight++;
    let ok: boolean;
    try {
      ok = ch.publish(this.opts.exchange, '', item.body, item.props, (err) => this.onConfirm(item, gen, err));
    } catch (err) {
      // The channel closed under us; its close event will follow. Keep the message for later.
      this.inflight--;
      this.queue.unshift(item);
      this.channel = undefined;
      this.opts.log.debug({ err: describe(err) }, 'publish on a closing channel');
      return;
    }
    if (!ok) this.waitingDrain = true;
  }

  private onConfirm(item: Item, gen: number, err: unknown): void {
    if (gen === this.gen) this.inflight--;
    if (err) {
      // Nacked, or the channel closed: the broker may or may not have it. Send it again (same
      // id, so the consumer's dedupe makes a copy harmless) unless the caller gave up.
      if (!item.batch.settled) this.queue.unshift(item);
      // After a close, wait for the next channel instead of publishing on the dying one.
      if (err instanceof Error && err.message === 'channel closed') {
        this.channel = undefined;
        return;
      }
    } else if (!item.batch.settled && --item.batch.remaining === 0) {
      this.settle(item.batch);
    }
    this.pump();
  }

  /** Resolves when nothing waits for a confirm (used at shutdown). */
  flush(timeoutMs = 10_000): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ch = this.channel;
    this.channel = undefined;
    this.gen++;
    if (ch) await ch.close().catch(() => undefined);
  }
}
