// The panel's alerts view in Chromium, against a stand-in for analytics that answers the agreed
// GET /api/v1/alerts shape (and the other reads the page makes): the panel server (`build`) and
// its relay are the real ones, analytics is not. Proves the rules' state and conditions in words,
// firing rules first, the fired/resolved list in local time with UTC in the title, live changes on
// the page's own 5 s timer (not on every batch), the empty state, a failed read, an older
// analytics without the API (404: "not available", the rest of the dashboard unharmed), Spanish,
// and axe-core. The integrator's end-to-end test runs the real `warren analytics`.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { build as buildPanel, type Panel } from '../src/panel/index.js';
import { fmtWhen } from '../src/panel/web/src/alertlogic.js';
import type { AlertRule, Alerts, Firing } from '../src/panel/web/src/api.js';
import { type StandIn, startStandIn } from './support/analytics-standin.js';
import { freePort, ROOT, sleep, waitFor } from './support/helpers.js';
import { ensurePanelBuilt, launchChromium } from './support/panel-fixture.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
/** The browser's zone: an hour off UTC in December, so local and UTC times differ. */
const ZONE = 'Europe/Madrid';
const SECRET_PATH = '/services/T000/B000/not-for-readers';

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const spaces = (s: string) => s.replace(/[\s\u202f]+/g, ' ').trim();
const text = async (page: Page, selector: string) => spaces((await page.textContent(selector)) ?? '');
const texts = async (page: Page, selector: string) =>
  (await page.locator(selector).allTextContents()).map(spaces);

async function axeProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') still holds.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: () => Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations as { id: string; impact: string; nodes: { target: string[] }[] }[];
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const NOW = Date.now();
const SINCE = iso(NOW - 3 * 60_000);

function rule(r: Partial<AlertRule> & Pick<AlertRule, 'id' | 'kind'>): AlertRule {
  return {
    webhook: `https://hooks.slack.com${SECRET_PATH}`,
    format: 'slack',
    created: iso(NOW - 7200_000),
    state: 'ok',
    ...r,
  };
}

const RULES: AlertRule[] = [
  rule({ id: 'r-silence', kind: 'silence', cliente: 'cliente_uno', minutes: 5 }),
  rule({
    id: 'r-click',
    kind: 'threshold',
    cliente: 'cliente_uno',
    evento: 'click',
    minutes: 10,
    above: 100,
    webhook: 'http://127.0.0.1:9/hook',
    format: 'json',
    created: iso(NOW - 3600_000),
    state: 'firing',
    since: SINCE,
  }),
  rule({ id: 'r-dlq', kind: 'dead_letters', above: 10, created: iso(NOW - 1800_000) }),
];

function firing(
  rule: string,
  kind: AlertRule['kind'],
  state: Firing['state'],
  start: number,
  at: number,
  summary: string,
): Firing {
  return {
    id: `${rule}:${iso(start)}:${state}`,
    rule,
    kind,
    state,
    episode_start: iso(start),
    at: iso(at),
    summary,
  };
}

const FIRINGS: Firing[] = [
  firing(
    'r-click',
    'threshold',
    'fired',
    NOW - 180_000,
    NOW - 179_000,
    'click of cliente_uno: 140 in 10 minutes, above 100',
  ),
  firing('r-silence', 'silence', 'resolved', NOW - 2400_000, NOW - 1200_000, 'cliente_uno is sending again'),
  firing(
    'r-silence',
    'silence',
    'fired',
    NOW - 2400_000,
    NOW - 2400_000,
    'cliente_uno sent nothing for 5 minutes',
  ),
  firing(
    'r-gone',
    'silence',
    'fired',
    NOW - 2 * 86_400_000,
    NOW - 2 * 86_400_000,
    'cliente_tres sent nothing for 5 minutes',
  ),
];

describe('panel renders alerts from the analytics API shape (stand-in analytics, real panel, Chromium)', () => {
  let standIn: StandIn;
  let panel: Panel;
  let panelUrl: string;
  let browser: Browser;
  let page: Page;
  let problems: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ensurePanelBuilt();
    standIn = await startStandIn();
    standIn.alerts = { status: 200, body: { rules: RULES, firings: FIRINGS } satisfies Alerts };
    const port = await freePort();
    panel = buildPanel(
      loadConfig({ ANALYTICS_URL: standIn.url, PANEL_PORT: String(port) }),
      createLogger('silent'),
    );
    panelUrl = `http://127.0.0.1:${await panel.start()}`;
    browser = await launchChromium();
    const context = await browser.newContext({
      locale: 'en-US',
      timezoneId: ZONE,
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    await panel?.close();
    await standIn?.close();
  });

  it('lists each rule with its state and condition in words, firing first, and where it notifies', async () => {
    await page.goto(`${panelUrl}/`);
    await waitFor('the rules', async () => (await page.locator('#alert-rules li').count()) === 3, 5000, 25);
    assert.deepEqual(await texts(page, '#alert-rules .rule-state'), ['FIRING', 'OK', 'OK']);
    assert.deepEqual(await texts(page, '#alert-rules .rule-cond'), [
      'click of cliente_uno above 100 in 10 min',
      'cliente_uno silent 5 min',
      'dead letters above 10',
    ]);
    const first = page.locator('#alert-rules li').first();
    assert.equal(await first.getAttribute('data-state'), 'firing');
    // Firing since a local time, with the same instant in UTC in its title.
    const since = first.locator('.rule-since time');
    assert.equal(spaces((await since.textContent()) ?? ''), spaces(fmtWhen(SINCE, Date.now(), ZONE).text));
    assert.notEqual(
      spaces((await since.textContent()) ?? ''),
      spaces(fmtWhen(SINCE, Date.now(), 'UTC').text),
    );
    assert.equal(await since.getAttribute('title'), `${SINCE.slice(0, 10)} ${SINCE.slice(11, 19)} UTC`);
    assert.equal(await since.getAttribute('datetime'), new Date(SINCE).toISOString());
    assert.equal(await text(page, '#alert-rules li:first-child .rule-hook'), 'notifies 127.0.0.1:9 (json)');
    assert.equal(
      await text(page, '#alert-rules li:nth-child(2) .rule-hook'),
      'notifies hooks.slack.com (slack)',
    );
    // The webhook's path (often its secret) is nowhere on the page.
    assert.equal((await page.content()).includes(SECRET_PATH), false);
    assert.equal(await text(page, '#alerts-summary'), '1 of 3 rules firing');
    assert.equal(await page.isVisible('#tile-alerts'), true);
    assert.equal(await text(page, '#tile-alerts .tile-value'), '1');
    assert.equal(await text(page, '#tile-alerts .tile-note'), 'click of cliente_uno above 100 in 10 min');
    assert.equal(await page.isVisible('#alerts-empty'), false);
    assert.equal(await page.isVisible('#alerts-unavailable'), false);
  });

  it('lists firings and resolutions newest first, in local time with UTC in the title', async () => {
    const rows = page.locator('#firings-body tr');
    assert.equal(await rows.count(), 4);
    assert.deepEqual(await texts(page, '#firings-body .firing-state'), [
      'Fired',
      'Resolved',
      'Fired',
      'Fired',
    ]);
    assert.deepEqual(await texts(page, '#firings-body td:nth-child(3)'), [
      'click of cliente_uno above 100 in 10 min',
      'cliente_uno silent 5 min',
      'cliente_uno silent 5 min',
      'rule r-gone (removed)',
    ]);
    assert.deepEqual(
      await texts(page, '#firings-body .firing-summary'),
      FIRINGS.map((f) => f.summary),
    );
    const times = await page
      .locator('#firings-body time')
      .evaluateAll((els) =>
        els.map((e) => [e.textContent ?? '', e.getAttribute('title'), e.getAttribute('datetime')]),
      );
    for (const [i, f] of FIRINGS.entries()) {
      const [shown, title, datetime] = times[i] ?? [];
      assert.equal(spaces(shown ?? ''), spaces(fmtWhen(f.at, Date.now(), ZONE).text), `row ${i}`);
      assert.equal(title, `${f.at.slice(0, 10)} ${f.at.slice(11, 19)} UTC`);
      assert.equal(datetime, new Date(f.at).toISOString());
    }
    // Two days ago carries its date; today's times do not.
    assert.match(spaces(times[3]?.[0] ?? ''), /^[A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d\d:\d\d [AP]M$/);
    assert.match(spaces(times[0]?.[0] ?? ''), /^\d{1,2}:\d\d:\d\d [AP]M$/);
    assert.deepEqual(problems, []);
  });

  it('shows a rule that starts firing within a poll, reading alerts on a timer, not per batch', async () => {
    await waitFor(
      'the page to be live',
      async () => (await page.getAttribute('body', 'data-state')) === 'live',
      5000,
    );
    const start = iso(Date.now() - 1000);
    const silence = { ...(RULES[0] as AlertRule), state: 'firing' as const, since: start };
    const fired = firing(
      'r-silence',
      'silence',
      'fired',
      Date.now() - 1000,
      Date.now(),
      'cliente_uno sent nothing for 5 minutes',
    );
    standIn.alerts = {
      status: 200,
      body: { rules: [silence, ...RULES.slice(1)], firings: [fired, ...FIRINGS] },
    };
    const alertsBefore = standIn.hits.get('/api/v1/alerts') ?? 0;
    const reportsBefore = standIn.hits.get('/api/v1/report') ?? 0;
    // Twenty committed batches in two seconds: the figures follow them, alerts keep their pace.
    for (let i = 0; i < 20; i++) {
      standIn.batch();
      await sleep(100);
    }
    assert.ok(
      (standIn.hits.get('/api/v1/report') ?? 0) - reportsBefore >= 3,
      'the figures refresh on batches',
    );
    assert.ok((standIn.hits.get('/api/v1/alerts') ?? 0) - alertsBefore <= 1, 'alerts are not read per batch');
    await waitFor(
      'the silence rule firing, newest episode first',
      async () => (await page.getAttribute('#alert-rules li:first-child', 'data-rule')) === 'r-silence',
      7000,
      50,
    );
    assert.deepEqual(await texts(page, '#alert-rules .rule-state'), ['FIRING', 'FIRING', 'OK']);
    assert.equal(await page.locator('#firings-body tr').count(), 5);
    assert.equal(await text(page, '#tile-alerts .tile-value'), '2');
    assert.equal(await text(page, '#tile-alerts .tile-note'), 'cliente_uno silent 5 min; and 1 more');
    assert.equal(await page.locator('#tile-alerts.warn').count(), 1);
    assert.deepEqual(problems, []);
  });

  it('keeps the last alerts and says why when a read fails', async () => {
    const good = standIn.alerts;
    standIn.alerts = { status: 500, body: { error: 'internal', message: 'the store did not answer' } };
    await waitFor('the failure said', () => page.isVisible('#alerts-error'), 7000, 50);
    assert.equal(
      await text(page, '#alerts-error'),
      'Alerts could not be read just now: the store did not answer. The last ones read stay shown.',
    );
    assert.equal(await page.locator('#alert-rules li').count(), 3);
    standIn.alerts = good;
    await waitFor('the failure cleared', async () => !(await page.isVisible('#alerts-error')), 7000, 50);
    assert.ok(
      problems.every((p) => p.includes('500')),
      problems.join('\n'),
    );
    problems = [];
  });

  it('reads in Spanish', async () => {
    await page.click('#lang');
    await waitFor('Spanish', async () => (await text(page, '#alerts-title')) === 'Alertas', 2000, 25);
    assert.deepEqual(await texts(page, '#alert-rules .rule-state'), ['ACTIVA', 'ACTIVA', 'OK']);
    assert.deepEqual(await texts(page, '#alert-rules .rule-cond'), [
      'cliente_uno sin eventos durante 5 min',
      'click de cliente_uno por encima de 100 en 10 min',
      'cola de descarte por encima de 10',
    ]);
    assert.equal(await text(page, '#firings-title'), 'Disparadas y resueltas');
    assert.deepEqual((await texts(page, '#firings-body .firing-state')).slice(0, 3), [
      'Disparada',
      'Disparada',
      'Resuelta',
    ]);
    await page.click('#lang');
    await waitFor('English', async () => (await text(page, '#alerts-title')) === 'Alerts', 2000, 25);
  });

  it('stays accessible with firing rules (axe-core, light and dark, 360 px)', async () => {
    assert.deepEqual(await axeProblems(page), [], 'light scheme');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-alerts.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await axeProblems(page), [], 'dark scheme');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 360, height: 780 });
    await waitFor(
      'no sideways scrolling at 360 px',
      () => page.evaluate(() => document.documentElement.scrollWidth <= 360),
      3000,
    );
    assert.deepEqual(await axeProblems(page), [], 'light scheme, 360 px');
    await page.setViewportSize({ width: 1280, height: 900 });
    // A full list (analytics sends at most 100) scrolls in its own region, reachable by keyboard.
    const many = Array.from({ length: 100 }, (_, i) =>
      firing(
        'r-silence',
        'silence',
        i % 2 ? 'fired' : 'resolved',
        NOW - (i + 1) * 600_000,
        NOW - i * 600_000,
        `episode ${i}`,
      ),
    );
    standIn.alerts = { status: 200, body: { rules: RULES, firings: many } };
    await waitFor(
      '100 firings',
      async () => (await page.locator('#firings-body tr').count()) === 100,
      7000,
      50,
    );
    assert.ok(
      await page.evaluate(() => {
        const wrap = document.querySelector('#alerts-body .table-wrap');
        return wrap !== null && wrap.scrollHeight > wrap.clientHeight;
      }),
      'the list scrolls',
    );
    assert.deepEqual(await axeProblems(page), [], '100 firings');
    assert.deepEqual(problems, []);
  });

  it('with no rules, says how to add one', async () => {
    standIn.alerts = { status: 200, body: { rules: [], firings: [] } };
    await page.reload();
    await waitFor('the empty state', () => page.isVisible('#alerts-empty'), 5000, 25);
    assert.equal(await text(page, '#alerts-empty-text'), 'No alert rules; add one with');
    assert.equal(
      await text(page, '#alerts-empty-cmd'),
      'warren alerts add silence --cliente C --minutes 5 --webhook URL',
    );
    assert.equal(await page.isVisible('#alerts-body'), false);
    assert.equal(await page.isVisible('#tile-alerts'), false, 'no alerts tile without rules');
    assert.deepEqual(await axeProblems(page), []);
    assert.deepEqual(problems, []);
  });

  it('says "alerts: not available" quietly when analytics has no alerts API (404), and the rest works', async () => {
    standIn.alerts = { status: 404, body: undefined };
    // The relay answers the page 200 {available: false}: no failed request every few seconds.
    const relayed = await fetch(`${panelUrl}/api/alerts`);
    assert.equal(relayed.status, 200);
    assert.deepEqual(await relayed.json(), { available: false });
    // The panel relays reads only: rules are added with `warren alerts add`, not through it.
    assert.equal((await fetch(`${panelUrl}/api/alerts`, { method: 'POST', body: '{}' })).status, 404);
    await page.reload();
    await waitFor('"not available"', () => page.isVisible('#alerts-unavailable'), 5000, 25);
    assert.match(await text(page, '#alerts-unavailable'), /^alerts: not available/);
    assert.equal(await page.isVisible('#tile-alerts'), false, 'no alerts tile without the API');
    assert.equal(await page.isVisible('#alerts-body'), false);
    assert.equal(await page.isVisible('#alerts-empty'), false);
    await waitFor(
      'the page to be live',
      async () => (await page.getAttribute('body', 'data-state')) === 'live',
      5000,
    );
    assert.equal(await text(page, '#tile-total .tile-value'), '3');
    assert.deepEqual(await texts(page, '#bars .bar-name'), ['cliente_uno']);
    assert.equal(await page.isVisible('#down-alert'), false);
    assert.deepEqual(await axeProblems(page), []);
    assert.deepEqual(problems, []);
  });
});
