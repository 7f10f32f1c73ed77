// The panel end to end: `warren analytics` and `warren panel` on a test queue and store, a real
// Traefik in front (router `panel` + `strip-panel`), headless Chromium driving the page. Proves
// the page works at /panel, /panel/ and on the panel's own port, shows new events live, narrows
// by client, reports analytics down and recovers by itself, and passes axe-core.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ROOT, waitFor } from './support/helpers.js';
import {
  type DemoEvent,
  launchChromium,
  type PanelStack,
  publishEvents,
  startPanelStack,
} from './support/panel-fixture.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface Watched {
  requests: string[];
  problems: string[];
}

/** Records every request, and every failed request, HTTP error, console error or page error. */
function watch(page: Page): Watched {
  const w: Watched = { requests: [], problems: [] };
  page.on('request', (r) => w.requests.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) w.problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => w.problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  page.on('console', (m) => {
    if (m.type() === 'error') w.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  return w;
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();
const state = (page: Page) => page.getAttribute('body', 'data-state');

async function waitState(page: Page, want: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`the page to be ${want}`, async () => (await state(page)) === want, timeoutMs, 50);
}

async function waitTotal(page: Page, want: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `the tiles and the time chart to show ${want} events`,
    async () =>
      (await text(page, '#tile-total .tile-value')) === String(want) &&
      (await page.getAttribute('#time-chart', 'data-total')) === String(want),
    timeoutMs,
    25,
  );
}

/** Runs axe-core in the page; returns serious and critical violations, described. */
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

function events(cliente: string, counts: Record<string, number>): DemoEvent[] {
  return Object.entries(counts).flatMap(([evento, n]) =>
    Array.from({ length: n }, () => ({ cliente, evento })),
  );
}

describe('panel end to end (analytics, panel, Traefik, Chromium)', () => {
  let stack: PanelStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watched: Watched;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startPanelStack('panel_e2e');
    browser = await launchChromium();
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watched = watch(page);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('opens at /panel (no slash): every asset and data call resolves under /panel/', async () => {
    await page.goto(`${stack.proxyUrl}/panel`);
    await waitState(page, 'live');
    const [first, ...rest] = watched.requests;
    assert.equal(first, `${stack.proxyUrl}/panel`);
    for (const url of rest)
      assert.ok(url.startsWith(`${stack.proxyUrl}/panel/`), `request outside /panel/: ${url}`);
    for (const asset of [
      'app.js',
      'app.css',
      'api/report',
      'api/timeseries',
      'api/uniques',
      'api/status',
      'api/stream',
    ]) {
      assert.ok(
        rest.some((u) => u.startsWith(`${stack.proxyUrl}/panel/${asset}`)),
        `${asset} was not requested under /panel/`,
      );
    }
    assert.deepEqual(watched.problems, []);
    // The empty state says how to send a first event.
    assert.equal(await page.isVisible('#empty'), true);
    const curl = await text(page, '#empty-curl');
    assert.match(curl, /^curl -X POST http:\/\/127\.0\.0\.1:\d+\/send -H "Content-Type: application\/json"/);
    assert.match(curl, /"message": "mensaje de prueba"/);
  });

  it('shows events of two clients within 2 s, without a reload', async () => {
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    await publishEvents(stack.env.exchange, [
      ...events('cliente_uno', { click: 7, view: 5 }),
      ...events('cliente_dos', { purchase: 3, click: 2 }),
    ]);
    const confirmed = Date.now();
    await waitTotal(page, 17, 2000);
    const latency = Date.now() - confirmed;
    await waitFor('two bars', async () => (await page.locator('#bars li').count()) === 2, 2000 - latency, 25);
    process.stderr.write(`panel e2e: 17 confirmed events on the page after ${latency} ms\n`);
    assert.equal(
      await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
      true,
    );
    assert.equal(await text(page, '#tile-clients .tile-value'), '2');
    assert.deepEqual(await page.locator('#bars .bar-name').allTextContents(), ['cliente_uno', 'cliente_dos']);
    assert.deepEqual(await page.locator('#bars .bar-value').allTextContents(), ['12', '5']);
    assert.equal(await page.locator('#types-body tr').count(), 4);
    assert.equal(await page.isVisible('#empty'), false);
    assert.match(await text(page, '#time-caption'), /^17 events in the last 15 minutes; busiest minute: 17/);
    assert.equal(await text(page, '#tile-queue .tile-note'), '1 consumer');
  });

  it('narrows every number to one client with the filter, and back', async () => {
    await page.selectOption('#client', 'cliente_dos');
    await waitTotal(page, 5, 2000);
    assert.equal(await text(page, '#tile-clients .tile-label'), 'Event types');
    assert.equal(await text(page, '#tile-clients .tile-value'), '2');
    assert.deepEqual(await page.locator('#bars .bar-name').allTextContents(), ['cliente_dos']);
    const clients = await page.locator('#types-body tr td:first-child').allTextContents();
    assert.deepEqual([...new Set(clients)], ['cliente_dos']);
    assert.match(page.url(), /#range=15m&client=cliente_dos$/);
    // Live while filtered: only the chosen client's new events move the figures.
    await publishEvents(stack.env.exchange, [
      ...events('cliente_dos', { view: 1 }),
      ...events('cliente_uno', { view: 4 }),
    ]);
    await waitTotal(page, 6, 2000);
    await page.selectOption('#client', '');
    await waitTotal(page, 22, 2000);
  });

  it('switches the range (hour buckets for 24 h and 7 days) without losing events', async () => {
    await page.click('label[for="range-7d"]');
    await waitFor(
      'hourly buckets',
      async () => (await text(page, '#time-unit')) === 'per hour, by event time',
      2000,
    );
    await waitTotal(page, 22, 2000);
    assert.equal(await text(page, '#tile-total .tile-note'), 'in the last 7 days');
    assert.match(page.url(), /#range=7d$/);
    await page.click('label[for="range-24h"]');
    await waitFor(
      'the 24 h range',
      async () => (await text(page, '#tile-total .tile-note')) === 'in the last 24 hours',
      2000,
    );
    await waitTotal(page, 22, 2000);
    await page.click('label[for="range-15m"]');
    await waitFor(
      'minute buckets',
      async () => (await text(page, '#time-unit')) === 'per minute, by event time',
      2000,
    );
    await waitTotal(page, 22, 2000);
  });

  it('is keyboard reachable and has no serious axe-core violations (light, dark, 360 px)', async () => {
    await page.focus('#lang');
    const reached: string[] = [];
    for (let i = 0; i < 16; i++) {
      await page.keyboard.press('Tab');
      reached.push(
        await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          return el?.id || el?.dataset.client || el?.closest('th')?.dataset.col || el?.tagName || '';
        }),
      );
    }
    for (const want of ['range-15m', 'client', 'cliente_uno', 'cliente_dos', 'client', 'count']) {
      assert.ok(reached.includes(want), `Tab never reached ${want}; reached ${reached.join(', ')}`);
    }
    // A bar chosen with the keyboard filters like a click.
    await page.focus('#bars button[data-client="cliente_uno"]');
    await page.keyboard.press('Enter');
    await waitTotal(page, 16, 2000);
    await page.keyboard.press('Enter');
    await waitTotal(page, 22, 2000);

    assert.deepEqual(await axeProblems(page), [], 'light scheme, 1280 px');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-e2e.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await axeProblems(page), [], 'dark scheme, 1280 px');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-e2e-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 360, height: 780 });
    await waitFor(
      'no sideways scrolling at 360 px',
      () => page.evaluate(() => document.documentElement.scrollWidth <= 360),
      3000,
    );
    assert.deepEqual(await axeProblems(page), [], 'light scheme, 360 px');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-e2e-360.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.deepEqual(watched.problems, []);
  });

  it('speaks Spanish to a Spanish browser, and switches language on the page', async () => {
    const es = await browser.newContext({ locale: 'es-ES' });
    try {
      const p = await es.newPage();
      await p.goto(`${stack.proxyUrl}/panel/`);
      await waitState(p, 'live');
      assert.equal(await p.getAttribute('html', 'lang'), 'es');
      assert.equal(await text(p, 'h1'), 'Panel de eventos');
      assert.equal(await text(p, '#tile-total .tile-label'), 'Eventos en el periodo');
      await p.screenshot({ path: join(ARTIFACTS, 'panel-e2e-es.png'), fullPage: true });
      await p.click('#lang');
      assert.equal(await p.getAttribute('html', 'lang'), 'en');
      assert.equal(await text(p, 'h1'), 'Events dashboard');
      await p.reload();
      await waitState(p, 'live');
      assert.equal(await text(p, 'h1'), 'Events dashboard', 'the choice is remembered');
    } finally {
      await es.close();
    }
  });

  for (const where of ['/panel/ through Traefik', 'the panel port directly']) {
    it(`works the same at ${where}`, async () => {
      const base = where.startsWith('/panel/') ? `${stack.proxyUrl}/panel/` : `${stack.panelUrl}/`;
      const p = await context.newPage();
      const w = watch(p);
      try {
        await p.goto(base);
        await waitState(p, 'live');
        await waitTotal(p, 22, 5000);
        for (const url of w.requests) assert.ok(url.startsWith(base), `request outside ${base}: ${url}`);
        assert.ok(w.requests.some((u) => u === `${base}app.js`));
        assert.ok(w.requests.some((u) => u === `${base}api/stream`));
        assert.deepEqual(w.problems, []);
      } finally {
        await p.close();
      }
    });
  }

  it('shows analytics down (figures kept, marked stale), then recovers by itself', async () => {
    watched.problems.length = 0;
    await stack.stopAnalytics();
    await waitState(page, 'down', 10_000);
    assert.equal(await page.isVisible('#down-alert'), true);
    assert.equal(await text(page, '#conn-title'), 'Analytics is not answering');
    // The reason shown names no internal address (that is in the panel's log).
    assert.match(await text(page, '#down-reason'), /^The analytics service is not answering right now/);
    assert.equal(await text(page, '#tile-total .tile-value'), '22', 'the last figures stay');
    assert.equal(
      await page.evaluate(() => document.getElementById('main')?.classList.contains('stale')),
      true,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'panel-e2e-down.png'), fullPage: true });

    await stack.startAnalytics();
    await waitState(page, 'live', 15_000);
    assert.equal(await page.isVisible('#down-alert'), false);
    await publishEvents(stack.env.exchange, events('cliente_tres', { signup: 3 }));
    await waitTotal(page, 25, 2000);
    assert.equal(await text(page, '#tile-clients .tile-value'), '3');
    // While analytics was away the relay answered 503 (expected; Chromium logs each one, and an
    // EventSource that gets a 503 cancels reading its body, seen as ERR_ABORTED right after that
    // 503). Nothing else went wrong.
    const unexpected = watched.problems.filter(
      (p) =>
        !/^503 .*\/panel\/api\//.test(p) &&
        !/^failed .*\/panel\/api\/stream: net::ERR_ABORTED$/.test(p) &&
        !p.startsWith('console: Failed to load resource'),
    );
    assert.ok(
      watched.problems.some((p) => /^503 .*\/panel\/api\//.test(p)),
      'the relay answered 503 while analytics was down',
    );
    assert.deepEqual(unexpected, []);
  });
});
