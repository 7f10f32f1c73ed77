// A confirmed publisher with a bounded window of messages in flight (RabbitMQ docs, "Publisher
// Confirms": handle confirms asynchronously, never one await per message). On connection loss
// every unconfirmed message is unknown: it is published again, with the same id, after the
// reconnect, unless its batch's deadline has passed (then its caller gets an error).
//
// A confirm is not a delivery: the broker confirms a message that no queue takes and drops it.
// Every publish is `mandatory`, so such a message comes back as basic.return, which the broker
// sends BEFORE the basic.ack of the same message (RabbitMQ docs, "Publisher Confirms": "for
// unroutable messages, the broker will issue a confirm once the exchange verifies a message won't
// route to any queue (returns an empty list of queues). If the message is also published as
// mandatory, the basic.return is sent to the client before basic.ack"). A returned message is a
// failure: the topology is declared again and the message published again with the same id.
//
// This is the window and its retries for raw messages; publisher.ts adds events and the reconcile
// report around them (accounting.ts).
import type { ConfirmChannel, ChannelModel as Connection, ConsumeMessage, Options } from 'amqplib';
import { BrokerUnavailableError, describe } from '../errors.js';
import type { Logger } from '../log.js';
import { PUB_HEADER } from './accounting.js';
import type { BrokerConnection } from './connection.js';
import { type PublishFields, publishFields, sendPublish } from './publish-fields.js';

export interface Batch {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface Item {
  body: Buffer;
  /** Its basic.publish, built once (mandatory, exchange or route included); see publish-fields.ts. */
  fields: PublishFields;
  batch: Batch;
  /** Which channel generation it was last sent on; confirms from an older one are ignored. */
  gen: number;
  /** The broker returned it (no queue took it): its confirm is a failure. */
  returned: boolean;
  /** The topology declaration it was last sent after (see redeclared). */
  epoch: number;
  /** A reported event: its confirm is counted as accepted, once. Its tag names it in a return. */
  acct: { cliente: string; ms: number; tag: string; done: boolean } | undefined;
}

export type Message = { body: Buffer; props: Options.Publish; acct?: Item['acct'] };

/**
 * Header carrying a per-publish sequence number, so a basic.return names its publish. A reported
 * event needs none: its publish tag (PUB_HEADER, unique per event of this publisher) names it.
 */
export const SEQ_HEADER = 'x-warren-seq';

export interface WindowOptions {
  exchange: string;
  /** Messages published but not yet confirmed, at most. */
  window: number;
  /** Messages waiting or in flight, at most; beyond it publish() refuses at once. */
  maxPending: number;
  /** Refuse at once while disconnected instead of waiting for the broker (HTTP gateway). */
  failFast: boolean;
  log: Logger;
  /** Declares the topology again (on a throwaway channel) after the broker returned a message. */
  redeclare?: (conn: Connection) => Promise<void>;
}

export class PublishWindow {
  private channel: ConfirmChannel | undefined;
  private gen = 0;
  protected readonly queue: Item[] = [];
  private inflight = 0;
  private waitingDrain = false;
  private readonly idleWaiters: (() => void)[] = [];

  private closed = false;
  /** Publishes awaiting their confirm on the current channel, by publish tag or sequence number. */
  private readonly sent = new Map<string | number, Item>();
  private seq = 0;
  /** Sending is held while the topology is declared again after a return. */
  private paused = false;
  private pauseTimer: NodeJS.Timeout | undefined;
  private redeclared = 0;
  private returnStreak = 0;

  constructor(
    private readonly broker: BrokerConnection,
    protected readonly opts: WindowOptions,
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

  /** Messages held back before the queue (reported events waiting for their report). */
  protected get held(): number {
    return 0;
  }

  /** A message's first confirm that counts (routed, acked): nothing to do here. */
  protected accepted(_item: Item): void {}

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
    ch.on('return', (msg: ConsumeMessage) => this.onReturn(msg, gen));
    ch.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
    this.channel = ch;
    this.inflight = 0;
    this.requeueUnanswered();
    this.pump();
  }

  private onChannelClosed(): void {
    this.channel = undefined;
    this.waitingDrain = false;
    this.gen++;
    // amqplib fails the callbacks of unconfirmed messages with "channel closed", which requeues
    // them (onConfirm); any it never answered are requeued here.
    this.requeueUnanswered();
  }

  /**
   * Messages sent on a channel that is gone and never answered go back to the front of the
   * queue, in the order they were sent. Without this a message whose confirm callback never came
   * (a connection cut mid-publish) was forgotten: its publish never resolved, and a report left
   * that way made every later 202 wait for it. A late callback for it is then ignored (gen -1).
   */
  private requeueUnanswered(): void {
    const unanswered = [...this.sent.values()].filter((i) => !i.batch.settled);
    this.sent.clear();
    for (const i of unanswered) i.gen = -1;
    this.queue.unshift(...unanswered);
  }

  /** Why a publish of n messages must be refused at once, if it must. */
  protected refusal(n: number): Error | undefined {
    if (this.opts.failFast && !this.channel)
      return new BrokerUnavailableError('RabbitMQ is not connected; retry shortly');
    if (this.pending + this.held + n > this.opts.maxPending)
      return new BrokerUnavailableError('too many events are waiting for broker confirms; retry shortly');
    return undefined;
  }

  /** Publishes raw bodies; resolves when the broker confirmed every one of them. */
  publishRaw(messages: { body: Buffer; props: Options.Publish }[], deadlineMs?: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const refused = this.refusal(messages.length);
    if (refused) return Promise.reject(refused);
    return this.enqueue(messages, deadlineMs);
  }

  /** Queues the messages as one batch; resolves when all are confirmed. */
  protected enqueue(messages: Message[], deadlineMs?: number, opts: { route?: string } = {}) {
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
      this.add(messages, batch, opts);
    });
  }

  /** The messages as items of one batch, their basic.publish built (mandatory). */
  protected items(messages: Message[], batch: Batch, route?: string): Item[] {
    const exchange = route === undefined ? this.opts.exchange : '';
    const routingKey = route ?? '';
    return messages.map((m) => {
      const fields = publishFields(exchange, routingKey, m.props);
      fields.mandatory = true;
      return { body: m.body, fields, batch, gen: -1, returned: false, epoch: -1, acct: m.acct };
    });
  }

  private add(messages: Message[], batch: Batch, opts: { route?: string }): void {
    this.queue.push(...this.items(messages, batch, opts.route));
    this.pump();
  }

  protected settle(batch: Batch, err?: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    if (batch.timer) clearTimeout(batch.timer);
    if (err) batch.reject(err);
    else batch.resolve();
  }

  protected pump(): void {
    const ch = this.channel;
    while (
      ch &&
      ch === this.channel && // a send that found the channel closing has let it go
      !this.paused &&
      !this.waitingDrain &&
      this.inflight < this.opts.window &&
      this.queue.length > 0
    ) {
      const item = this.queue.shift()!;
      if (item.batch.settled) continue; // its caller has given up (deadline)
      this.send(ch, item);
    }
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private send(ch: ConfirmChannel, item: Item): void {
    const gen = this.gen;
    item.gen = gen;
    item.returned = false;
    item.epoch = this.redeclared;
    this.inflight++;
    // What a basic.return of this publish will carry to name it (onReturn).
    let key: string | number;
    if (item.acct) key = item.acct.tag;
    else {
      key = ++this.seq;
      item.fields.headers[SEQ_HEADER] = key;
    }
    this.sent.set(key, item);
    let ok: boolean;
    try {
      ok = sendPublish(ch, item.fields, item.body, (err) => {
        // A callback of an older send of this item (gen) leaves the newer send's entry alone.
        if (item.gen === gen) this.sent.delete(key);
        this.onConfirm(item, gen, err);
      });
    } catch (err) {
      // Nothing was sent and no callback registered (sendPublish). The channel is closing; its
      // close event will follow. Keep the message for the next channel.
      this.sent.delete(key);
      this.inflight--;
      this.queue.unshift(item);
      this.channel = undefined;
      this.opts.log.debug({ err: describe(err) }, 'publish on a closing channel');
      return;
    }
    if (!ok) this.waitingDrain = true;
  }

  /** basic.return: mark the publish it names; its confirm (which follows) becomes a failure. */
  private onReturn(msg: ConsumeMessage, gen: number): void {
    if (gen !== this.gen) return;
    // Headers are the broker's copy of what was published: a sequence number, else a publish tag
    // (a message without one of ours names no publish and is ignored).
    const headers = msg.properties.headers;
    const seq = headers?.[SEQ_HEADER];
    const tag = headers?.[PUB_HEADER];
    const key = typeof seq === 'number' ? seq : typeof tag === 'string' ? tag : undefined;
    const item = key === undefined ? undefined : this.sent.get(key);
    if (item) item.returned = true;
  }

  private onConfirm(item: Item, gen: number, err: unknown): void {
    if (gen === this.gen) this.inflight--;
    // A callback of an earlier send of this item: it has been queued again since (see
    // requeueUnanswered), and the new send's confirm decides.
    if (item.gen !== gen) return;
    if (!err && item.returned) {
      // Confirmed but routed to no queue: not delivered. Same id again, once the topology is back.
      if (!item.batch.settled) this.queue.unshift(item);
      if (item.epoch === this.redeclared) this.holdAndRedeclare();
      this.pump(); // nothing while held; otherwise (an older return) it goes out again now
      return;
    }
    if (err) {
      // Nacked, or the channel closed: the broker may or may not have it. Send it again (same
      // id, so the consumer's dedupe makes a copy harmless) unless the caller gave up.
      if (!item.batch.settled) this.queue.unshift(item);
      // After a close, wait for the next channel instead of publishing on the dying one.
      if (err instanceof Error && err.message === 'channel closed') {
        this.channel = undefined;
        return;
      }
    } else {
      this.returnStreak = 0;
      // The broker holds it, whatever its caller was told (a 503 after the deadline included).
      this.accepted(item);
      if (!item.batch.settled && --item.batch.remaining === 0) this.settle(item.batch);
    }
    this.pump();
  }

  /**
   * Holds sending, declares the topology again after a backoff (the queue may come back on its
   * own, e.g. analytics declaring it), then resumes. Returns of messages sent before a declaration
   * finished do not start another one.
   */
  private holdAndRedeclare(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.returnStreak++;
    const delay = Math.min(5000, 25 * 2 ** Math.min(this.returnStreak, 8));
    if (this.returnStreak === 1 || this.returnStreak % 10 === 0)
      this.opts.log.warn(
        { exchange: this.opts.exchange, returns: this.returnStreak },
        'the broker returned events no queue takes (queue deleted or unbound?); declaring the topology again and publishing them again with the same ids',
      );
    this.pauseTimer = setTimeout(() => void this.redeclare(), delay);
  }

  private async redeclare(): Promise<void> {
    const conn = this.broker.connection;
    try {
      if (conn && this.opts.redeclare && !this.closed) await this.opts.redeclare(conn);
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'declaring the topology again failed; will retry');
    } finally {
      this.redeclared++;
      this.paused = false;
      this.pauseTimer = undefined;
      this.pump();
    }
  }

  /** Resolves when nothing waits for a confirm (used at shutdown). */
  flush(timeoutMs = 10_000): Promise<boolean> {
    return this.idle(timeoutMs);
  }

  protected idle(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
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
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    const ch = this.channel;
    this.channel = undefined;
    this.gen++;
    if (ch) await ch.close().catch(() => undefined);
  }
}
