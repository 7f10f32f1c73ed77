// The alerts view's words and order, apart from the DOM so they run in Node: a rule's condition
// in words, firing rules first, times in local time with UTC beside them, the webhook's host.
import type { AlertRule, Alerts, AlertsUnavailable, Firing } from './api.js';
import { fmtInt } from './dom.js';
import { language, t } from './i18n.js';

/** Minutes and thresholds may be decimals (tests use 0.05-minute windows); at most 2 digits. */
export function fmtNumber(n: number): string {
  return new Intl.NumberFormat(language(), { maximumFractionDigits: 2 }).format(n);
}

/** Who a rule watches: "click of cliente_uno", "cliente_uno", or "click" alone. */
function subject(rule: Pick<AlertRule, 'cliente' | 'evento'>): string {
  const { cliente, evento } = rule;
  if (cliente && evento) return t('cond.of', { evento, cliente });
  return cliente ?? evento ?? t('cond.anyClient');
}

/** The rule's condition in words, e.g. "click of cliente_uno above 100 in 10 min". */
export function condition(rule: AlertRule): string {
  const minutes = rule.minutes === undefined ? '?' : fmtNumber(rule.minutes);
  const parts: string[] = [];
  if (rule.kind === 'silence') return t('cond.silence', { subject: subject(rule), minutes });
  if (rule.kind === 'threshold') {
    const who = subject(rule);
    if (rule.above !== undefined)
      parts.push(t('cond.above', { subject: who, x: fmtNumber(rule.above), minutes }));
    if (rule.below !== undefined)
      parts.push(t('cond.below', { subject: who, x: fmtNumber(rule.below), minutes }));
  } else if (rule.kind === 'dead_letters') {
    if (rule.above !== undefined) parts.push(t('cond.dlqAbove', { x: fmtNumber(rule.above) }));
    if (rule.valid) parts.push(t('cond.dlqValid'));
  }
  // A kind this page does not know (a newer analytics) is still listed, by its name.
  return parts.length > 0 ? parts.join(t('cond.or')) : String(rule.kind);
}

function timeOf(iso: string | undefined): number {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Firing rules first, the most recent episode on top; the rest in the order they were created. */
export function sortRules(rules: readonly AlertRule[]): AlertRule[] {
  return [...rules].sort((a, b) => {
    const fa = a.state === 'firing' ? 1 : 0;
    const fb = b.state === 'firing' ? 1 : 0;
    if (fa !== fb) return fb - fa;
    if (fa) return timeOf(b.since) - timeOf(a.since) || a.id.localeCompare(b.id);
    return timeOf(a.created) - timeOf(b.created) || a.id.localeCompare(b.id);
  });
}

export interface When {
  /** Local time: the time alone today, with the date otherwise. */
  text: string;
  /** The same instant in UTC, for the title (and exact reading). */
  utc: string;
  /** For the <time datetime> attribute; empty when the answer's time did not parse. */
  iso: string;
}

/** A time of the answer for a person. `timeZone` is for tests; the page uses the viewer's. */
export function fmtWhen(iso: string, now: number, timeZone?: string): When {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { text: iso || '—', utc: '', iso: '' };
  const day = new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short' });
  const today = day.format(ms) === day.format(now);
  const text = new Intl.DateTimeFormat(language(), {
    timeZone,
    ...(today ? {} : { month: 'short', day: 'numeric' }),
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
  }).format(ms);
  const utc = `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return { text, utc, iso: new Date(ms).toISOString() };
}

/**
 * Where a rule notifies: the host only. A webhook's path is often its secret (Slack's
 * hooks.slack.com/services/…), and the panel's readers are not necessarily its owners.
 */
export function webhookHost(url: string): string {
  try {
    return new URL(url).host || '—';
  } catch {
    return '—';
  }
}

/** The headline: how many rules fire, of how many. */
export function summary(rules: readonly AlertRule[]): string {
  const firing = rules.filter((r) => r.state === 'firing').length;
  if (firing > 0) return t('alerts.firingCount', { firing, n: rules.length });
  return rules.length === 1 ? t('alerts.okCount1') : t('alerts.okCount', { n: rules.length });
}

/** The alerts tile: [value, note, warn]: how many rules fire, and the first one's condition. */
export function tileText(
  available: boolean | undefined,
  rules: readonly AlertRule[] | undefined,
): [string, string, boolean] {
  if (available === false) return ['—', t('tile.alertsUnavailable'), false];
  if (!rules) return ['—', '', false];
  if (rules.length === 0) return ['0', t('tile.alertsNoRules'), false];
  const firing = sortRules(rules).filter((r) => r.state === 'firing');
  if (firing.length === 0) {
    return [
      '0',
      rules.length === 1 ? t('tile.alertsOk1') : t('tile.alertsOk', { n: fmtInt(rules.length) }),
      false,
    ];
  }
  const first = condition(firing[0] as AlertRule);
  const more = firing.length - 1;
  return [fmtInt(firing.length), more === 0 ? first : t('tile.alertsMore', { first, n: fmtInt(more) }), true];
}

/** The firing list's rule column: the rule's condition while it exists, else its id. */
export function firingRule(f: Firing, byId: ReadonlyMap<string, AlertRule>): string {
  const rule = byId.get(f.rule);
  return rule ? condition(rule) : t('firings.removedRule', { id: f.rule });
}

/** The answer as the page uses it, or `undefined` for "not available" (an analytics without alerts). */
export function readAnswer(answer: Alerts | AlertsUnavailable): Alerts | undefined {
  // JSON null (or any non-object) is read as an answer with nothing in it.
  const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Partial<
    Alerts & AlertsUnavailable
  >;
  if (a.available === false) return undefined;
  // Entries without the fields the view reads are left out rather than breaking the page.
  const rules = (Array.isArray(a.rules) ? a.rules : []).filter(
    (r) => r && typeof r.id === 'string' && typeof r.kind === 'string',
  );
  const firings = (Array.isArray(a.firings) ? a.firings : []).filter(
    (f) => f && typeof f.id === 'string' && typeof f.at === 'string',
  );
  return { rules, firings };
}
