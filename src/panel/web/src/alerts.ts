// The alerts view: the tile (how many rules fire), each rule with its state and condition in
// words (firing ones first, marked in text as well as colour), and the fired/resolved list.
import {
  condition,
  firingRule,
  fmtWhen,
  readAnswer,
  sortRules,
  summary,
  tileText,
  webhookHost,
} from './alertlogic.js';
import {
  type AlertRule,
  type Alerts,
  type AlertsUnavailable,
  FetchError,
  type Firing,
  fetchAlerts,
} from './api.js';
import { byId, h } from './dom.js';
import { language, t } from './i18n.js';

export interface AlertsState {
  /** The last answer read; kept while a later read fails. */
  answer: Alerts | undefined;
  /** false once analytics said it has no alerts API; undefined until the first answer. */
  available: boolean | undefined;
  /** Why the last read failed, if it did. */
  error: string | undefined;
}

export function emptyAlerts(): AlertsState {
  return { answer: undefined, available: undefined, error: undefined };
}

/** How often rules and firings are read: their state changes on analytics' evaluation timer. */
const EVERY_MS = 5000;
/** An analytics without the alerts API is asked again now and then (it may be upgraded). */
const UNAVAILABLE_EVERY_MS = 60_000;

export interface AlertPoller {
  readonly state: AlertsState;
  /** Reads again if the last read is old enough (called every second by the page's timer). */
  tick(now: number): void;
  /** Reads now (the stream opened: analytics is back). */
  now(): void;
}

/**
 * Reads api/alerts on its own timer, not on every batch: a batch rarely changes an alert, and
 * rules are few. An outage of analytics is the page's banner's to report, not this view's.
 */
export function alertPoller(onRead: (s: AlertsState) => void): AlertPoller {
  const state = emptyAlerts();
  let last = 0;
  let busy = false;
  const read = async () => {
    if (busy) return;
    busy = true;
    last = Date.now();
    try {
      applyRead(state, await fetchAlerts());
    } catch (err) {
      if (!(err instanceof FetchError && err.kind === 'analytics')) {
        applyRead(state, err instanceof Error ? err : new Error(String(err)));
      }
    } finally {
      busy = false;
    }
    onRead(state);
  };
  return {
    state,
    tick(now) {
      if (now - last >= (state.available === false ? UNAVAILABLE_EVERY_MS : EVERY_MS)) void read();
    },
    now: () => void read(),
  };
}

/** Folds one read into the state: an answer, "not available", or a failure (last data kept). */
export function applyRead(s: AlertsState, read: Alerts | AlertsUnavailable | Error): void {
  if (read instanceof Error) {
    s.error = read.message;
    return;
  }
  s.error = undefined;
  s.answer = readAnswer(read);
  s.available = s.answer !== undefined;
}

function timeEl(iso: string, now: number): HTMLTimeElement {
  const w = fmtWhen(iso, now);
  return h('time', { datetime: w.iso || undefined, title: w.utc || undefined }, w.text);
}

function renderTile(s: AlertsState): void {
  const [value, note, warn] = tileText(s.available, s.answer?.rules);
  const tile = byId('tile-alerts');
  const v = tile.querySelector('.tile-value');
  const n = tile.querySelector('.tile-note');
  if (v) v.textContent = value;
  if (n) n.textContent = note;
  tile.classList.toggle('warn', warn);
  // Without rules the tile would only repeat the card's empty state; the card says it.
  tile.hidden = !s.answer?.rules.length;
}

function ruleItem(rule: AlertRule, now: number): HTMLLIElement {
  const firing = rule.state === 'firing';
  const li = h(
    'li',
    { class: 'alert-rule', 'data-state': firing ? 'firing' : 'ok', 'data-rule': rule.id },
    h('span', { class: 'rule-state' }, firing ? t('alerts.firing') : t('alerts.ok')),
    ' ',
    h('span', { class: 'rule-cond' }, condition(rule)),
  );
  if (rule.since) {
    // The time goes where the sentence puts it ("since 14:03", "desde las 14:03").
    const [before, after] = t('alerts.since', { time: '\u0000' }).split('\u0000');
    li.append(' ', h('span', { class: 'rule-since' }, before ?? '', timeEl(rule.since, now), after ?? ''));
  }
  const hook = t('alerts.notifies', { host: webhookHost(rule.webhook), format: rule.format });
  li.append(' ', h('span', { class: 'rule-hook' }, hook));
  return li;
}

function firingRow(f: Firing, rules: ReadonlyMap<string, AlertRule>, now: number): HTMLTableRowElement {
  const fired = f.state === 'fired';
  return h(
    'tr',
    { 'data-state': fired ? 'fired' : 'resolved' },
    h('td', {}, timeEl(f.at, now)),
    h('td', {}, h('span', { class: 'firing-state' }, fired ? t('firings.fired') : t('firings.resolved'))),
    h('td', {}, firingRule(f, rules)),
    h('td', { class: 'firing-summary' }, f.summary),
  );
}

function renderLists(a: Alerts, now: number): void {
  byId('alerts-empty').hidden = a.rules.length > 0;
  byId('alerts-empty-text').textContent = t('alerts.empty');
  byId('alerts-body').hidden = a.rules.length === 0 && a.firings.length === 0;
  byId('alert-rules').replaceChildren(...sortRules(a.rules).map((r) => ruleItem(r, now)));
  byId('alert-rules').hidden = a.rules.length === 0;
  byId('alerts-summary').textContent = a.rules.length > 0 ? summary(a.rules) : '';
  const rules = new Map(a.rules.map((r) => [r.id, r]));
  const rows = a.firings.map((f) => firingRow(f, rules, now));
  byId('firings-body').replaceChildren(
    ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 4, class: 'none' }, t('firings.none')))]),
  );
}

let shown = '';

/** Renders only when something shown would change (the lists are rebuilt, not patched). */
export function renderAlerts(s: AlertsState, now = Date.now()): void {
  const key = JSON.stringify([s, language(), new Date(now).toDateString()]);
  if (key === shown) return;
  shown = key;
  renderTile(s);
  const unavailable = s.available === false;
  byId('alerts-unavailable').hidden = !unavailable;
  byId('alerts-unavailable').textContent = unavailable ? t('alerts.unavailable') : '';
  byId('alerts-error').hidden = s.error === undefined;
  byId('alerts-error').textContent = s.error === undefined ? '' : t('alerts.error', { reason: s.error });
  if (unavailable || !s.answer) {
    byId('alerts-empty').hidden = true;
    byId('alerts-body').hidden = true;
    byId('alerts-summary').textContent = '';
    return;
  }
  renderLists(s.answer, now);
}
