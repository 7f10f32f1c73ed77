// The alerts view's pure logic, run in Node: conditions in words (English and Spanish), the order
// of rules, times, the webhook's host, and how an answer (or its absence) is read.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
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
import type { AlertRule, Firing } from './api.js';
import { setLanguage } from './i18n.js';

const rule = (r: Partial<AlertRule> & Pick<AlertRule, 'id' | 'kind'>): AlertRule => ({
  webhook: 'https://hooks.example.com/x',
  format: 'json',
  created: '2026-12-06T10:00:00Z',
  state: 'ok',
  ...r,
});

/** setLanguage sets the page's lang and title; Node has no page, so a bare stand-in takes them. */
function inLanguage(lang: 'en' | 'es'): void {
  const g = globalThis as { document?: unknown };
  g.document ??= { documentElement: {}, title: '', querySelectorAll: () => [] };
  setLanguage(lang);
}

describe('condition', () => {
  after(() => inLanguage('en'));

  it('says each kind of rule in words', () => {
    inLanguage('en');
    assert.equal(
      condition(rule({ id: 'a', kind: 'silence', cliente: 'cliente_uno', minutes: 5 })),
      'cliente_uno silent 5 min',
    );
    assert.equal(
      condition(rule({ id: 'b', kind: 'silence', cliente: 'cliente_uno', evento: 'click', minutes: 0.05 })),
      'click of cliente_uno silent 0.05 min',
    );
    const threshold = {
      id: 'c',
      kind: 'threshold',
      cliente: 'cliente_uno',
      evento: 'click',
      minutes: 10,
    } as const;
    assert.equal(condition(rule({ ...threshold, above: 100 })), 'click of cliente_uno above 100 in 10 min');
    assert.equal(condition(rule({ ...threshold, below: 3 })), 'click of cliente_uno below 3 in 10 min');
    assert.equal(condition(rule({ id: 'd', kind: 'dead_letters', above: 10 })), 'dead letters above 10');
    assert.equal(
      condition(rule({ id: 'e', kind: 'dead_letters', valid: true })),
      'valid events dead-lettered',
    );
    assert.equal(
      condition(rule({ id: 'f', kind: 'dead_letters', above: 1000, valid: true })),
      'dead letters above 1,000, or valid events dead-lettered',
    );
  });

  it('names a kind it does not know rather than hiding the rule', () => {
    assert.equal(condition(rule({ id: 'g', kind: 'latency' as AlertRule['kind'] })), 'latency');
  });

  it('speaks Spanish when the page does', () => {
    inLanguage('es');
    assert.equal(
      condition(rule({ id: 'a', kind: 'silence', cliente: 'cliente_uno', minutes: 5 })),
      'cliente_uno sin eventos durante 5 min',
    );
    assert.equal(
      condition(
        rule({
          id: 'c',
          kind: 'threshold',
          cliente: 'cliente_uno',
          evento: 'click',
          minutes: 1.5,
          above: 100,
        }),
      ),
      'click de cliente_uno por encima de 100 en 1,5 min',
    );
  });
});

describe('sortRules', () => {
  it('puts firing rules first, the newest episode on top, then the rest by creation', () => {
    const rules = [
      rule({ id: 'old-ok', kind: 'silence', created: '2026-12-01T00:00:00Z' }),
      rule({ id: 'fire-early', kind: 'silence', state: 'firing', since: '2026-12-06T09:00:00Z' }),
      rule({ id: 'new-ok', kind: 'silence', created: '2026-12-05T00:00:00Z' }),
      rule({ id: 'fire-late', kind: 'silence', state: 'firing', since: '2026-12-06T11:00:00Z' }),
    ];
    assert.deepEqual(
      sortRules(rules).map((r) => r.id),
      ['fire-late', 'fire-early', 'old-ok', 'new-ok'],
    );
    assert.equal(rules[0]?.id, 'old-ok', 'the answer itself is left in its order');
  });
});

describe('fmtWhen', () => {
  const now = Date.parse('2026-12-06T15:00:00Z');
  it('gives the local time alone today, with the date before, and UTC for the title', () => {
    const today = fmtWhen('2026-12-06T14:03:12Z', now, 'UTC');
    assert.deepEqual(today, {
      text: '2:03:12 PM',
      utc: '2026-12-06 14:03:12 UTC',
      iso: '2026-12-06T14:03:12.000Z',
    });
    assert.equal(fmtWhen('2026-12-05T14:03:12Z', now, 'UTC').text, 'Dec 5, 2:03:12 PM');
    // In Madrid 14:03 UTC is 15:03 the same day; 23:30 UTC is already the next day.
    assert.equal(fmtWhen('2026-12-06T14:03:12Z', now, 'Europe/Madrid').text, '3:03:12 PM');
    assert.equal(fmtWhen('2026-12-06T23:30:00Z', now, 'Europe/Madrid').text, 'Dec 7, 12:30:00 AM');
  });

  it('shows a time it cannot read as it came, with no title', () => {
    assert.deepEqual(fmtWhen('yesterday', now), { text: 'yesterday', utc: '', iso: '' });
    assert.equal(fmtWhen('', now).text, '—');
  });
});

describe('webhookHost', () => {
  it('shows the host only: a webhook path is often its secret', () => {
    assert.equal(webhookHost('https://hooks.slack.com/services/T000/B000/XXXX'), 'hooks.slack.com');
    assert.equal(webhookHost('http://127.0.0.1:9000/hook'), '127.0.0.1:9000');
    assert.equal(webhookHost('not a url'), '—');
  });
});

describe('readAnswer', () => {
  it('reads "not available" as no answer, and leaves out entries it cannot show', () => {
    assert.equal(readAnswer({ available: false }), undefined);
    const firing: Firing = {
      id: 'r1:2026-12-06T10:00:00Z:fired',
      rule: 'r1',
      kind: 'silence',
      state: 'fired',
      episode_start: '2026-12-06T10:00:00Z',
      at: '2026-12-06T10:00:01Z',
      summary: 'cliente_uno sent nothing for 5 minutes',
    };
    const a = readAnswer({
      rules: [rule({ id: 'r1', kind: 'silence' }), { nope: 1 } as unknown as AlertRule],
      firings: [firing, null as unknown as Firing],
    });
    assert.deepEqual(
      a?.rules.map((r) => r.id),
      ['r1'],
    );
    assert.deepEqual(a?.firings, [firing]);
    assert.deepEqual(readAnswer({} as never), { rules: [], firings: [] });
    assert.deepEqual(readAnswer(null as never), { rules: [], firings: [] });
    assert.deepEqual(readAnswer({ rules: 'x', firings: 3 } as never), { rules: [], firings: [] });
  });
});

describe('summary and firingRule', () => {
  it('counts firing rules, and names a removed rule by its id', () => {
    const rules = [
      rule({ id: 'a', kind: 'silence', cliente: 'c', minutes: 1, state: 'firing' }),
      rule({ id: 'b', kind: 'silence' }),
    ];
    assert.equal(summary(rules), '1 of 2 rules firing');
    assert.equal(summary([rule({ id: 'b', kind: 'silence' })]), '1 rule, not firing');
    assert.equal(
      summary([rule({ id: 'b', kind: 'silence' }), rule({ id: 'c', kind: 'silence' })]),
      '2 rules, none firing',
    );
    const byId = new Map(rules.map((r) => [r.id, r]));
    const f = { rule: 'a' } as Firing;
    assert.equal(firingRule(f, byId), 'c silent 1 min');
    assert.equal(firingRule({ ...f, rule: 'gone' }, byId), 'rule gone (removed)');
  });
});

describe('tileText', () => {
  it('counts firing rules and names the newest one; says when there are none or no API', () => {
    const ok = rule({ id: 'ok', kind: 'dead_letters', above: 10 });
    const fire = (id: string, since: string, cliente: string) =>
      rule({ id, kind: 'silence', cliente, minutes: 5, state: 'firing', since });
    assert.deepEqual(tileText(false, undefined), ['—', 'alerts: not available', false]);
    assert.deepEqual(tileText(undefined, undefined), ['—', '', false]);
    assert.deepEqual(tileText(true, []), ['0', 'no alert rules', false]);
    assert.deepEqual(tileText(true, [ok]), ['0', 'its 1 rule is ok', false]);
    assert.deepEqual(tileText(true, [ok, ok]), ['0', 'none of 2 rules', false]);
    assert.deepEqual(tileText(true, [ok, fire('a', '2026-12-06T10:00:00Z', 'cliente_uno')]), [
      '1',
      'cliente_uno silent 5 min',
      true,
    ]);
    assert.deepEqual(
      tileText(true, [
        fire('a', '2026-12-06T10:00:00Z', 'cliente_uno'),
        ok,
        fire('b', '2026-12-06T11:00:00Z', 'cliente_dos'),
      ]),
      ['2', 'cliente_dos silent 5 min; and 1 more', true],
    );
  });
});
