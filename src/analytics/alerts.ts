// The alert evaluator (README "Alerts"): after each committed batch (debounced, off the commit's
// path) and on a timer (ALERT_EVAL_MS, sooner when a silence rule is due), it checks every rule
// and records a firing when an episode starts and a resolution when it ends. The store decides
// which process records it (alerts.ts in store/: a conditional update), so several analytics
// processes on one PostgreSQL database fire each episode once; the state lives in the store, so
// a restart neither repeats nor forgets an episode. The outbox (alert-outbox.ts) publishes them.
import { type Alert, alertId, buildMessage } from '../alert.js';
import type { Rule } from '../alert-rule.js';
import { describe } from '../errors.js';
import type { Logger } from '../log.js';
import { type Alerts, alertsOf, type Store } from '../store/index.js';
import { deadLetters, silence, threshold, type Verdict } from './alert-rules.js';
import type { QueueStatus } from './api.js';
import type { Metrics } from './metrics.js';

export interface EvaluatorOptions {
  store: () => Store | undefined;
  queueStatus: () => Promise<QueueStatus>;
  /** ALERT_EVAL_MS: the longest time between two evaluations. */
  evalMs: number;
  log: Logger;
  /** Called after this process recorded a firing or resolution (the outbox publishes it). */
  recorded: () => void;
  /** The clock (epoch ms); tests inject one. */
  now?: () => number;
  metrics?: Pick<Metrics, 'alertEvaluations' | 'alertsRecorded'>;
}

/** How soon after a committed batch the rules are evaluated: batches in a burst share one pass. */
const AFTER_COMMIT_MS = 200;
/** The shortest timer: a silence due now is evaluated at once, not in a busy loop. */
const MIN_TIMER_MS = 10;
/** The DLQ figures are asked of the broker at most this often (passes follow every batch). */
const STATUS_MAX_AGE_MS = 1000;

const iso = (ms: number) => new Date(ms).toISOString();

export class AlertEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private failing = false;
  private status: { at: number; value: QueueStatus } | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: EvaluatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** After a committed batch: evaluate soon, never on the commit's path. */
  readonly kick = (): void => this.schedule(AFTER_COMMIT_MS);

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.tick();
    }, ms);
  }

  /** One pass at a time; a kick during a pass runs one more after it. */
  private async tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    let next = this.opts.evalMs;
    this.running = this.evaluate().then(
      (due) => {
        if (due !== undefined) next = Math.min(next, Math.max(MIN_TIMER_MS, due - this.now()));
      },
      () => undefined,
    );
    await this.running;
    this.running = undefined;
    if (this.again) {
      this.again = false;
      next = 0;
    }
    this.schedule(next);
  }

  /** Evaluates every rule once; returns the earliest time a silence rule becomes due, if any. */
  async evaluate(): Promise<number | undefined> {
    const store = this.opts.store();
    const a = store && alertsOf(store);
    if (!a) return undefined;
    try {
      const rules = await a.rules();
      const status = rules.some((r) => r.kind === 'dead_letters') ? await this.queueStatus() : undefined;
      let due: number | undefined;
      for (const rule of rules) {
        const d = await this.evaluateRule(a, rule, status);
        if (d !== undefined) due = Math.min(due ?? d, d);
      }
      this.opts.metrics?.alertEvaluations.inc();
      if (this.failing) this.opts.log.info('alert evaluation works again');
      this.failing = false;
      return due;
    } catch (err) {
      if (!this.failing) this.opts.log.warn({ err: describe(err) }, 'alert evaluation failed; retrying');
      this.failing = true;
      return undefined;
    }
  }

  private async queueStatus(): Promise<QueueStatus> {
    const at = Date.now();
    if (this.status && at - this.status.at < STATUS_MAX_AGE_MS) return this.status.value;
    const value = await this.opts.queueStatus();
    this.status = { at, value };
    return value;
  }

  private async verdict(a: Alerts, rule: Rule, status: QueueStatus | undefined, now: number) {
    if (rule.kind === 'silence') return silence(rule, a, now);
    if (rule.kind === 'threshold') return threshold(rule, a, now);
    return status && deadLetters(rule, status, now);
  }

  /**
   * Closes the open episode when the condition ended (or, for silence, when a newer episode
   * replaced it: the client came back and went quiet again between two passes), and opens one
   * when the condition holds and none is open. Returns when the rule may become due.
   */
  private async evaluateRule(a: Alerts, rule: Rule, status: QueueStatus | undefined) {
    const now = this.now();
    const v = await this.verdict(a, rule, status, now);
    if (!v) return undefined;
    const open = rule.openSince;
    const replaced = v.holds && rule.kind === 'silence' && open !== undefined && v.start !== open;
    if (open !== undefined && (!v.holds || replaced)) {
      const summary = replaced ? `${rule.cliente} sent events again after ${iso(open)}` : v.summary;
      await this.record(a, rule, { ...v, summary }, open, 'resolved', now);
    }
    if (v.holds && (open === undefined || replaced)) await this.record(a, rule, v, v.start, 'fired', now);
    return v.holds ? undefined : v.due;
  }

  private async record(
    a: Alerts,
    rule: Rule,
    v: Verdict,
    start: number,
    state: 'fired' | 'resolved',
    now: number,
  ): Promise<void> {
    const id = alertId(rule.id, start, state);
    const alert: Alert = {
      id,
      state,
      rule: { id: rule.id, kind: rule.kind, cliente: rule.cliente, evento: rule.evento },
      episode_start: iso(start),
      at: iso(now),
      summary: v.summary,
      detail: v.detail,
    };
    const message = JSON.stringify(buildMessage(alert, rule.webhook, rule.format, rule.secret));
    const f = {
      id,
      rule: rule.id,
      kind: rule.kind,
      state,
      episodeStart: start,
      at: now,
      summary: v.summary,
      message,
    };
    const done = state === 'fired' ? await a.open(f) : await a.resolve(f);
    if (!done) return; // another process recorded it (or the rule was removed meanwhile)
    this.opts.log.info({ alert: id, rule: rule.id, summary: v.summary }, `alert ${state}`);
    this.opts.metrics?.alertsRecorded.inc({ state });
    this.opts.recorded();
  }
}
