// Users on the panel end to end: events carrying `usuario` go through the real pipeline (the
// exchange, `warren analytics` counting them and adding them to the sketches, `warren panel`
// relaying /api/v1/uniques, Traefik in front) and headless Chromium shows the distinct users in
// the users tile and draws the users line on the time chart, live, per client, and accessibly.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();

/** The users per bucket the chart was given (data-users), without the empty buckets. */
async function usersLine(page: Page): Promise<number[]> {
  const raw = (await page.getAttribute('#time-chart', 'data-users')) ?? '';
  return raw === ''
    ? []
    : raw
        .split(',')
        .map(Number)
        .filter((n) => n > 0);
}

/**
 * Pixels of the users line's colour on the chart's canvas: proves the line is drawn, not only
 * handed to uPlot. Anti-aliased edges blend, so a pixel counts when it is close to the colour.
 */
function usersPixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#time-chart canvas');
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return -1;
    const probe = document.createElement('canvas').getContext('2d');
    if (!probe) return -1;
    probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--users').trim();
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      const d = Math.abs((px[i] ?? 0) - (r ?? 0)) + Math.abs((px[i + 1] ?? 0) - (g ?? 0));
      if (d + Math.abs((px[i + 2] ?? 0) - (b ?? 0)) < 40 && (px[i + 3] ?? 0) > 200) n++;
    }
    return n;
  });
}

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

/** `n` events of one client by each user, stamped inside the minute `minutesAgo` before now. */
function byUsers(cliente: string, users: string[], n: number, minutesAgo: number): DemoEvent[] {
  const minute = Math.floor(Date.now() / 60_000) * 60_000 - minutesAgo * 60_000;
  return users.flatMap((usuario) =>
    Array.from({ length: n }, (_, i) => ({
      cliente,
      evento: i % 2 === 0 ? 'view' : 'click',
      usuario,
      at: new Date(minute + 10_000 + i * 1000),
    })),
  );
}

async function waitUsers(page: Page, want: string, timeoutMs = 2000): Promise<void> {
  await waitFor(
    `the users tile to show ${want}`,
    async () => (await text(page, '#tile-users .tile-value')) === want,
    timeoutMs,
    25,
  );
}

describe('panel users (usuario through the pipeline, the tile and the chart, Chromium)', () => {
  let stack: PanelStack;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startPanelStack('panel_users');
    browser = await launchChromium();
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
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
    await stack?.close();
  });

  it('shows no users line and no users figure while no event carries a usuario', async () => {
    await page.goto(`${stack.proxyUrl}/panel/`);
    await waitFor(
      'the page to be live',
      async () => (await page.getAttribute('body', 'data-state')) === 'live',
    );
    await publishEvents(stack.env.exchange, [
      { cliente: 'cliente_tres', evento: 'view' },
      { cliente: 'cliente_tres', evento: 'view' },
    ]);
    await waitFor(
      'two events on the page',
      async () => (await text(page, '#tile-total .tile-value')) === '2',
      2000,
      25,
    );
    assert.equal(await text(page, '#tile-users .tile-value'), '—');
    assert.equal(
      await text(page, '#tile-users .tile-note'),
      'no event in the last 15 minutes carries a usuario',
    );
    assert.equal(await page.isVisible('#legend-users'), false);
    assert.deepEqual(await usersLine(page), []);
    assert.equal(await usersPixels(page), 0);
  });

  it('counts distinct users per client in the tile and draws them per minute, live', async () => {
    // cliente_uno: u1-u3 two minutes ago, u1 and u4 a minute ago; cliente_dos: u1 a minute ago
    // (a user of another client is another user). Distinct: 4 + 1 = 5; per minute: 3 and 3.
    await publishEvents(stack.env.exchange, [
      ...byUsers('cliente_uno', ['u1', 'u2', 'u3'], 4, 2),
      ...byUsers('cliente_uno', ['u1', 'u4'], 3, 1),
      ...byUsers('cliente_dos', ['u1'], 2, 1),
    ]);
    await waitUsers(page, '5');
    assert.equal(await text(page, '#tile-total .tile-value'), '22');
    assert.equal(await text(page, '#tile-users .tile-note'), 'distinct usuario in the last 15 minutes');
    await waitFor('the users line', async () => (await usersLine(page)).join() === '3,3', 2000, 25);
    assert.equal(await page.isVisible('#legend-users'), true);
    assert.ok((await usersPixels(page)) > 30, 'the users line is drawn on the canvas');
    assert.match(
      await text(page, '#time-caption'),
      /Users: 5 distinct in the last 15 minutes; most in one minute: 3/,
    );

    // A new user and a known one arrive: only the new one adds, without a reload.
    await publishEvents(stack.env.exchange, [
      ...byUsers('cliente_uno', ['u9'], 1, 0),
      ...byUsers('cliente_uno', ['u2'], 1, 0),
    ]);
    await waitUsers(page, '6');
    // Each client's bar shows its users beside its events; cliente_tres's events carry none.
    await waitFor(
      'users on the bars',
      async () => (await page.locator('#bars .bar-users').allTextContents()).join('|') === '5 users|1 user|',
      2000,
      25,
    );
    await waitFor(
      'the new minute on the users line',
      async () => (await usersLine(page)).join() === '3,3,2',
      2000,
      25,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'panel-users.png'), fullPage: true });
  });

  it('narrows the users to the chosen client', async () => {
    await page.selectOption('#client', 'cliente_dos');
    await waitUsers(page, '1');
    await waitFor('cliente_dos’s users line', async () => (await usersLine(page)).join() === '1', 2000, 25);
    await page.selectOption('#client', 'cliente_tres');
    await waitUsers(page, '—');
    assert.equal(await page.isVisible('#legend-users'), false);
    await page.selectOption('#client', '');
    await waitUsers(page, '6');
  });

  it('counts users over hour buckets too (24 hours)', async () => {
    await page.click('label[for="range-24h"]');
    await waitFor(
      'the 24 h range',
      async () => (await text(page, '#tile-users .tile-note')) === 'distinct usuario in the last 24 hours',
      2000,
      25,
    );
    await waitUsers(page, '6');
    // Every event is in this hour or the last one; the chart's sum would count u1 twice, the
    // tile does not.
    const line = await usersLine(page);
    assert.ok(line.length >= 1 && line.length <= 2, `users per hour: ${line.join()}`);
    await page.click('label[for="range-15m"]');
    await waitFor(
      'minute buckets',
      async () => (await text(page, '#time-unit')) === 'per minute, by event time',
      2000,
    );
  });

  it('keeps the page accessible with the users line (light and dark)', async () => {
    assert.deepEqual(await axeProblems(page), [], 'light scheme');
    await page.emulateMedia({ colorScheme: 'dark' });
    await waitFor(
      'the chart redrawn in the dark scheme',
      async () => (await usersPixels(page)) > 30,
      2000,
      25,
    );
    assert.deepEqual(await axeProblems(page), [], 'dark scheme');
    await page.emulateMedia({ colorScheme: 'light' });
    // The bars' users column still fits a phone.
    await page.setViewportSize({ width: 360, height: 780 });
    await waitFor(
      'no sideways scrolling at 360 px',
      () => page.evaluate(() => document.documentElement.scrollWidth <= 360),
      3000,
    );
    assert.deepEqual(await axeProblems(page), [], 'light scheme, 360 px');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-users-360.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });
});
