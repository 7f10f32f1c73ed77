// What the deliverer does with each message (README "Alerts" > "Delivery"). One job per alert
// and webhook (alert id + URL), not per delivery: a message the broker hands out again (its
// channel closed mid-retry, a copy published twice) joins the job already running for it instead
// of starting a second stream of POSTs, and whichever delivery is current when the job ends is
// acked. A delivered alert is remembered for a while, so a copy that arrives later is acked at
// once; a dead-lettered one is not, so that one published again (replayed once its receiver is
// fixed) is tried again.
// The outcome is at-least-once: a POST whose ack is lost (the deliverer killed between the two)
// is made again after the redelivery, with the same alert id for the receiver to dedupe by.
import type { AlertMessage } from '../alert.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Delivery, DeliveryConsumer } from './consumer.js';
import { type DeadLetter, type Inbox, parseDelivery } from './inbox.js';
import { type Attempt, backoff, post, urlHost } from './webhook.js';

interface Job {
  key: string;
  message: AlertMessage;
  /** Deliveries of this alert held unacked (usually one; more after a redelivery or a copy). */
  deliveries: Delivery[];
  attempts: number;
}

export interface JobStats {
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
  invalid: number;
}

/** How many delivered alerts are remembered, to ack their late copies without a POST. */
const REMEMBERED = 10_000;

export type JobsConfig = Pick<
  Config,
  'alertRetryBaseMs' | 'alertRetryMaxMs' | 'alertMaxAttempts' | 'alertTimeoutMs'
>;

export class Jobs {
  private readonly running = new Map<string, Job>();
  private readonly delivered = new Map<string, true>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  readonly stats: JobStats = { delivered: 0, failedAttempts: 0, deadLettered: 0, invalid: 0 };

  constructor(
    private readonly config: JobsConfig,
    private readonly consumer: Pick<DeliveryConsumer, 'ack'>,
    private readonly inbox: Inbox,
    private readonly log: Logger,
  ) {}

  /** Alerts being delivered or retried now. */
  get active(): number {
    return this.running.size;
  }

  take(d: Delivery): void {
    const parsed = parseDelivery(d.msg.content);
    if (!parsed.ok) {
      this.stats.invalid++;
      this.log.warn(
        { reason: parsed.reason },
        'an alert message that cannot be delivered; dead-lettering it',
      );
      this.track(this.deadLetter([d], { reason: parsed.reason, attempts: 0 }));
      return;
    }
    const { message } = parsed;
    const key = `${message.alert.id}\n${message.url}`;
    if (this.delivered.has(key)) {
      this.log.info({ alert: message.alert.id }, 'alert already delivered; acking its copy');
      this.consumer.ack(d);
      return;
    }
    const job = this.running.get(key);
    if (job) {
      job.deliveries.push(d);
      return;
    }
    const fresh: Job = { key, message, deliveries: [d], attempts: 0 };
    this.running.set(key, fresh);
    this.track(this.run(fresh));
  }

  private track(work: Promise<void>): void {
    const task = work.catch((err) => {
      if (!this.stop.signal.aborted) this.log.error({ err }, 'dead-lettering an alert failed');
    });
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private async run(job: Job): Promise<void> {
    try {
      const dead = await this.attemptAll(job);
      if (dead) await this.deadLetter(job.deliveries, dead, job.message);
      else {
        this.ackAll(job.deliveries);
        this.remember(job.key);
      }
    } catch (err) {
      // Stopped (shutdown) between attempts: the deliveries stay unacked and go back to the queue.
      if (this.stop.signal.aborted) return;
      // A fault of our own must not hold the alert forever: it is dead-lettered, saying so.
      this.log.error({ err, alert: job.message.alert.id }, 'alert job failed; dead-lettering it');
      const reason = `internal error: ${err instanceof Error ? err.message : String(err)}`;
      await this.deadLetter(job.deliveries, { reason, attempts: job.attempts }, job.message);
    } finally {
      this.running.delete(job.key);
    }
  }

  /** POSTs until delivered (undefined) or given up (the dead letter to write). */
  private async attemptAll(job: Job): Promise<DeadLetter | undefined> {
    const { alertMaxAttempts: max, alertTimeoutMs } = this.config;
    for (;;) {
      this.stop.signal.throwIfAborted();
      job.attempts++;
      const r = await post(job.message, alertTimeoutMs);
      this.logAttempt(job, r);
      if (r.ok) {
        this.stats.delivered++;
        return undefined;
      }
      this.stats.failedAttempts++;
      const last = { attempts: job.attempts, lastError: r.error, lastStatus: r.status };
      if (r.permanent)
        return {
          reason: `${r.error}, not retried (a permanent refusal: fix the rule's URL or the receiver)`,
          ...last,
        };
      if (job.attempts >= max) return { reason: `${r.error} after ${job.attempts} attempts`, ...last };
      const wait = backoff(job.attempts, {
        baseMs: this.config.alertRetryBaseMs,
        maxMs: this.config.alertRetryMaxMs,
        retryAfterMs: r.retryAfterMs,
      });
      await abortableSleep(wait, this.stop.signal);
    }
  }

  private logAttempt(job: Job, r: Attempt): void {
    const fields = {
      alert: job.message.alert.id,
      state: job.message.alert.state,
      host: urlHost(job.message.url),
      attempt: job.attempts,
      status: r.status,
      ms: r.ms,
    };
    if (r.ok) this.log.info(fields, 'alert delivered');
    else this.log.warn({ ...fields, error: r.error, permanent: r.permanent }, 'alert webhook failed');
  }

  private ackAll(deliveries: Delivery[]): void {
    for (const d of deliveries.splice(0)) this.consumer.ack(d);
  }

  /** Copies the message to the DLQ with its reason (confirmed), and only then acks it. */
  private async deadLetter(deliveries: Delivery[], dead: DeadLetter, message?: AlertMessage): Promise<void> {
    const first = deliveries[0];
    if (!first) return;
    await this.inbox.deadLetter(first.msg, dead, message);
    this.stats.deadLettered++;
    this.log.warn(
      { alert: message?.alert.id, host: message ? urlHost(message.url) : undefined, reason: dead.reason },
      'alert dead-lettered',
    );
    this.ackAll(deliveries);
  }

  private remember(key: string): void {
    this.delivered.set(key, true);
    if (this.delivered.size > REMEMBERED) {
      const oldest = this.delivered.keys().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
  }

  /**
   * Stops retrying: waits between attempts end now; a POST under way finishes (within
   * ALERT_TIMEOUT_MS) and is acked, so a clean stop sends nothing twice. Resolves when every job
   * has ended or after graceMs.
   */
  async close(graceMs: number): Promise<void> {
    this.stop.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.tasks]), late]);
    clearTimeout(timer);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
