// The publisher every Warren part uses: PublishWindow's confirmed window (publish-window.ts) for
// events and raw messages, and, when it reports (reportTo), the reconcile report around its
// events (accounting.ts): a tick's attempts go out before its events, and an event's publish
// resolves once a report counting its confirm is confirmed too.
import type { Options } from 'amqplib';
import { BrokerUnavailableError } from '../errors.js';
import { type Event, type ParsedEvent, parseTimestamp, serialize } from '../event.js';
import { Accounting, PUB_HEADER } from './accounting.js';
import type { BrokerConnection } from './connection.js';
import { ReportCoverage } from './coverage.js';
import { type Batch, type Item, type Message, PublishWindow, type WindowOptions } from './publish-window.js';

export interface PublisherOptions extends WindowOptions {
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

export class ConfirmedPublisher extends PublishWindow {
  /** Reconcile's accepted side (accounting.ts), when this publisher reports. */
  readonly accounting: Accounting | undefined;
  /** The base's options, with the reporting ones (same object). */
  declare protected readonly opts: PublisherOptions;
  /** Reported events waiting for the report that announces them (see stage()). */
  private staged: Item[] = [];
  private stageScheduled = false;
  /** Called at the end of the next stage tick, once its report is queued. */
  private afterStage: (() => void)[] = [];
  /** Which reports are confirmed (a publish resolves once every report up to its own is). */
  private readonly coverage = new ReportCoverage();

  constructor(broker: BrokerConnection, opts: PublisherOptions) {
    super(broker, opts);
    this.accounting = opts.reportTo === undefined ? undefined : new Accounting();
  }

  protected override get held(): number {
    return this.staged.length;
  }

  protected override accepted(item: Item): void {
    if (item.acct && !item.acct.done) {
      item.acct.done = true;
      this.accounting?.accepted(item.acct.cliente, item.acct.ms);
    }
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
      this.staged.push(...this.items(messages, batch));
      this.stage();
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

  /** Resolves when nothing waits for a confirm (used at shutdown). */
  override async flush(timeoutMs = 10_000): Promise<boolean> {
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
}
