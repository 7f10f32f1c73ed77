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
import type { ConfirmChannel, ChannelModel as Connection, ConsumeMessage, Options } from 'amqplib';
import { BrokerUnavailableError, describe } from '../errors.js';
import { type Event, type ParsedEvent, parseTimestamp, serialize } from '../event.js';
import type { Logger } from '../log.js';
import { Accounting, PUB_HEADER } from './accounting.js';
import type { BrokerConnection } from './connection.js';
import { ReportCoverage } from './coverage.js';
import { type PublishFields, publishFields, sendPublish } from './publish-fields.js';

interface Batch {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Item {
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

type Message = { body: Buffer; props: Options.Publish; acct?: Item['acct'] };

/**
 * Header carrying a per-publish sequence number, so a basic.return names its publish. A reported
 * event needs none: its publish tag (PUB_HEADER, unique per event of this publisher) names it.
 */
export const SEQ_HEADER = 'x-warren-seq';

export interface PublisherOptions {
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
  /** Report what publish() attempts and gets confirmed on this control queue (accounting.ts). */
  reportTo?: string;
  /**
   * With reportTo: publish() resolves only once a report counting its confirms is confirmed too
   * (default; ingest's 202). false: it resolves on the events' confirms and the report follows in
   * the next tick; a publisher killed in between leaves those events "uncertain" (attempted, not
   * yet reported accepted), which still balances. The simulated client and replay use it: they
   * keep a bounded number of publishes in flight, so one more round trip each costs throughput.
   */
  awaitReport?: boolean;
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
  /** Publishes awaiting their confirm on the current channel, by publish tag or sequence number. */
  private readonly sent = new Map<string | number, Item>();
  private seq = 0;
  /** Sending is held while the topology is declared again after a return. */
  private paused = false;
  private pauseTimer: NodeJS.Timeout | undefined;
  private redeclared = 0;
  private returnStreak = 0;
  /** Reconcile's accepted side (accounting.ts), when this publisher reports. */
  readonly accounting: Accounting | undefined;
  /** Reported events waiting for the report that announces them (see stage()). */
  private staged: Item[] = [];
  private stageScheduled = false;
  /** Called at the end of the next stage tick, once its report is queued. */
  private afterStage: (() => void)[] = [];
  /** Which reports are confirmed (a publish resolves once every report up to its own is). */
  private readonly coverage = new ReportCoverage();

  constructor(
    private readonly broker: BrokerConnection,
    private readonly opts: PublisherOptions,
  ) {
    this.accounting = opts.reportTo === undefined ? undefined : new Accounting();
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
  private refusal(n: number): Error | undefined {
    if (this.opts.failFast && !this.channel)
      return new BrokerUnavailableError('RabbitMQ is not connected; retry shortly');
    if (this.pending + this.staged.length + n > this.opts.maxPending)
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

  /**
   * Queues the messages as one batch; resolves when all are confirmed. `staged` (reported events)
   * waits for the end of the tick, so that the report announcing them goes out first (stage()).
   */
  private enqueue(messages: Message[], deadlineMs?: number, opts: { route?: string } = {}) {
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

  private add(messages: Message[], batch: Batch, opts: { staged?: boolean; route?: string }): void {
    const exchange = opts.route === undefined ? this.opts.exchange : '';
    const routingKey = opts.route ?? '';
    const items: Item[] = messages.map((m) => {
      const fields = publishFields(exchange, routingKey, m.props);
      fields.mandatory = true;
      return { body: m.body, fields, batch, gen: -1, returned: false, epoch: -1, acct: m.acct };
    });
    if (opts.staged) {
      this.staged.push(...items);
      this.stage();
      return;
    }
    this.queue.push(...items);
    this.pump();
  }

  /**
   * Publishes events (ids already filled); resolves when every one is confirmed and, when this
   * publisher reports, when a report counting their confirms is confirmed too.
   */
  publish(events: Event[], deadlineMs?: number): Promise<void> {
    const acct = this.accounting;
    if (!acct) {
      return this.publishRaw(
        events.map((e) => ({ body: serialize(e), props: eventProperties(e) })),
        deadlineMs,
      );
    }
    if (events.length === 0) return Promise.resolve();
    const refused = this.refusal(events.length);
    if (refused) return Promise.reject(refused);
    const messages: Message[] = events.map((e) => {
      const props = eventProperties(e);
      const tag = acct.tag();
      props.headers = { [PUB_HEADER]: tag };
      // An event parsed by the caller (ingest) carries its time already.
      const ms = (e as Partial<ParsedEvent>).ms ?? parseTimestamp(e.timestamp) ?? Date.now();
      acct.attempted(e.cliente, ms);
      return { body: serialize(e), props, acct: { cliente: e.cliente, ms, tag, done: false } };
    });
    // One deadline for both waits (the events' confirms, then the report's), no promise per wait.
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let gaveUp = false;
      let withdraw: (() => void) | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const batch: Batch = {
        remaining: messages.length,
        settled: false,
        timer: undefined,
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
        resolve: () => {
          if (this.opts.awaitReport === false) {
            this.stage(); // the confirms go out in this tick's report, nobody waits for it
            done();
            return;
          }
          // The report counting these confirms is queued at the end of this tick.
          this.stage(() => {
            if (!gaveUp) withdraw = this.coverage.wait(done);
          });
        },
      };
      if (deadlineMs !== undefined) {
        timer = setTimeout(() => {
          if (!batch.settled) {
            this.settle(
              batch,
              new BrokerUnavailableError(`the broker did not confirm within ${deadlineMs} ms`),
            );
            return;
          }
          gaveUp = true;
          withdraw?.();
          reject(
            new BrokerUnavailableError(
              `the broker confirmed the events but not, within ${deadlineMs} ms, the report that accounts for them; retry shortly`,
            ),
          );
        }, deadlineMs);
      }
      this.add(messages, batch, { staged: true });
    });
  }

  /**
   * At the end of this tick: the pending report (the attempts of every event staged in the tick,
   * the confirms since the last report) is queued, then the staged events behind it, then `then`
   * runs. One report per tick, however many publishes the tick held.
   */
  private stage(then?: () => void): void {
    if (then) this.afterStage.push(then);
    if (this.stageScheduled) return;
    this.stageScheduled = true;
    setImmediate(() => {
      this.stageScheduled = false;
      this.queueReports();
      this.queue.push(...this.staged);
      this.staged = [];
      this.pump();
      const calls = this.afterStage;
      this.afterStage = [];
      for (const f of calls) f();
    });
  }

  /** Queues the pending counts as report messages, which are retried until confirmed. */
  private queueReports(): void {
    const acct = this.accounting;
    const route = this.opts.reportTo;
    if (!acct || route === undefined) return;
    for (const body of acct.take()) {
      const props: Options.Publish = {
        contentType: 'application/json',
        persistent: true,
        type: 'warren.report',
      };
      const n = this.coverage.add();
      // No deadline: a report is sent again until the broker confirms it.
      void this.enqueue([{ body, props }], undefined, { route }).then(
        () => this.coverage.confirmed(n),
        () => undefined,
      );
    }
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
      if (item.acct && !item.acct.done) {
        item.acct.done = true;
        this.accounting?.accepted(item.acct.cliente, item.acct.ms);
      }
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
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // Anything staged goes out behind its report; the confirms that arrive meanwhile go out in one
    // more report, until nothing is left to report (a reporter stopped cleanly leaves no gap).
    do {
      if (this.accounting?.dirty || this.staged.length > 0) {
        this.queueReports();
        this.queue.push(...this.staged);
        this.staged = [];
        this.pump();
      }
      if (!(await this.idle(deadline - Date.now()))) return false;
    } while (this.accounting?.dirty);
    return true;
  }

  private idle(timeoutMs: number): Promise<boolean> {
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
