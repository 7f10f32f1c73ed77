// What each kind of rule checks (README "Alerts"): whether its condition holds now, and when the
// episode started. Pure decisions over figures read from the store and the broker; the evaluator
// (alerts.ts) turns them into firings.
import type { Rule } from '../alert-rule.js';
import type { Alerts } from '../store/index.js';
import type { QueueStatus } from './api.js';

/** The condition of a rule now: holds (since when), or not; undefined when it cannot be told. */
export interface Verdict {
  holds: boolean;
  /** While it holds: the episode's start (deterministic where it can be: silence). */
  start: number;
  summary: string;
  detail: Record<string, unknown>;
  /** When the condition may start to hold without anything else happening (silence), epoch ms. */
  due?: number;
}

const MINUTE_MS = 60_000;

/**
 * Silence: nothing arrived from the client (of the event) for `minutes`. Measured on arrival
 * (commit) time, from the last arrival, or from the rule's creation if nothing arrived since.
 * The episode starts at last arrival + minutes: every process computes the same start.
 */
export async function silence(rule: Rule, a: Alerts, now: number): Promise<Verdict> {
  const who = rule.evento === undefined ? rule.cliente : `${rule.cliente}/${rule.evento}`;
  const last = await a.lastSeen(rule.cliente ?? '', rule.evento);
  const from = Math.max(last ?? Number.NEGATIVE_INFINITY, rule.created);
  // Whole milliseconds: the start is stored (BIGINT) and compared; 0.07 * 60000 is 4200.000000000001.
  const due = Math.round(from + (rule.minutes ?? 0) * MINUTE_MS);
  const detail = {
    minutes: rule.minutes,
    last_event: last === undefined ? null : new Date(last).toISOString(),
  };
  if (now >= due) {
    const since =
      last === undefined
        ? 'it has sent nothing since the rule was made'
        : `last event at ${detail.last_event}`;
    return {
      holds: true,
      start: due,
      summary: `${who} sent nothing for ${rule.minutes} min (${since})`,
      detail,
    };
  }
  return { holds: false, start: due, summary: `${who} is sending again`, detail, due };
}

/**
 * Threshold: the count of (cliente, evento) in the minute buckets (event time) that overlap the
 * last `minutes`, above or below the limit. The episode starts when an evaluation first sees it.
 */
export async function threshold(rule: Rule, a: Alerts, now: number): Promise<Verdict> {
  const windowMs = (rule.minutes ?? 0) * MINUTE_MS;
  const from = Math.floor((now - windowMs) / MINUTE_MS) * 60;
  const count = await a.windowCount(rule.cliente ?? '', rule.evento ?? '', from);
  const above = rule.above !== undefined;
  const limit = (above ? rule.above : rule.below) ?? 0;
  const holds = above ? count > limit : count < limit;
  const side = above ? 'above' : 'below';
  const who = `${rule.cliente}/${rule.evento}`;
  const summary = holds
    ? `${who}: ${count} events in the last ${rule.minutes} min, ${side} ${limit}`
    : `${who}: ${count} events in the last ${rule.minutes} min, no longer ${side} ${limit}`;
  return { holds, start: now, summary, detail: { count, minutes: rule.minutes, [side]: limit } };
}

/** Dead letters: the analytics DLQ holds more than `above`, or (valid) holds valid events. */
export function deadLetters(rule: Rule, q: QueueStatus, now: number): Verdict | undefined {
  if (q.deadLetters === null) return undefined;
  const detail = {
    dead_letters: q.deadLetters,
    valid: q.deadLettersDetail?.valid ?? null,
    invalid: q.deadLettersDetail?.invalid ?? null,
  };
  if (rule.valid) {
    if (!q.deadLettersDetail) return undefined;
    const n = q.deadLettersDetail.valid;
    const summary =
      n > 0
        ? `${n} valid events are in the dead-letter queue (replay them: warren dlq replay)`
        : 'no valid events are left in the dead-letter queue';
    return { holds: n > 0, start: now, summary, detail };
  }
  const limit = rule.above ?? 0;
  const holds = q.deadLetters > limit;
  const summary = holds
    ? `the dead-letter queue holds ${q.deadLetters} messages, above ${limit}`
    : `the dead-letter queue holds ${q.deadLetters} messages, no longer above ${limit}`;
  return { holds, start: now, summary, detail };
}
