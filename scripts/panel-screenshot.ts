// Produces docs/panel.png: the panel on demo data, through Traefik, in headless Chromium.
// Needs RabbitMQ (AMQP_URL) and a build (`npm run build`); uses its own queue and store and
// removes them afterwards. Run: node --import tsx scripts/panel-screenshot.ts [out.png]
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { getJson, publishRaw, ROOT, sleep, waitFor } from '../test/support/helpers.js';
import {
  type DemoEvent,
  launchChromium,
  publishEvents,
  startPanelStack,
} from '../test/support/panel-fixture.js';

const out = process.argv[2] ?? join(ROOT, 'docs', 'panel.png');

const CLIENTS: [string, number, string[]][] = [
  ['cliente_uno', 1.0, ['click', 'view', 'purchase', 'add_to_cart']],
  ['cliente_dos', 0.62, ['click', 'view', 'signup']],
  ['tienda_web', 0.45, ['view', 'add_to_cart', 'purchase', 'refund']],
  ['app_movil', 0.3, ['open', 'click', 'push_opened']],
  ['kiosko_01', 0.12, ['scan', 'print']],
];

/** A small deterministic generator, so the picture is the same on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/** About an hour of traffic with a daily-looking swell, spread over five clients. */
function demoEvents(now: number): DemoEvent[] {
  const rnd = random(42);
  const events: DemoEvent[] = [];
  // 58 minutes back at most, so every event falls inside the page's one-hour range.
  for (let m = 58; m >= 0; m--) {
    const perMinute = Math.round(26 + 16 * Math.sin((60 - m) / 9) + 12 * rnd());
    for (const [cliente, weight, kinds] of CLIENTS) {
      const n = Math.round(perMinute * weight * (0.7 + 0.6 * rnd()));
      for (let i = 0; i < n; i++) {
        const evento = kinds[Math.floor(rnd() ** 1.6 * kinds.length)] ?? 'click';
        const at = new Date(now - m * 60_000 - Math.floor(rnd() * 59_000));
        // A few hundred users per client, some much more active than others: the users tile.
        const usuario = `user_${Math.floor(rnd() ** 2 * 600 * weight)}`;
        events.push({ cliente, evento, at, usuario });
      }
    }
  }
  return events;
}

const stack = await startPanelStack('panel_shot');
const browser = await launchChromium();
try {
  const events = demoEvents(Date.now());
  await publishEvents(stack.env.exchange, events);
  // A retried publish (same ids) and a few bodies that can never be counted, as in real life.
  const retried = Array.from({ length: 37 }, () =>
    JSON.stringify({
      id: randomUUID(),
      cliente: 'app_movil',
      evento: 'open',
      timestamp: new Date().toISOString(),
    }),
  );
  await publishRaw(stack.env.exchange, [
    ...retried,
    ...retried,
    '{"cliente": "sin_evento"}',
    'not json',
    '{}',
  ]);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  await page.goto(`${stack.proxyUrl}/panel/#range=1h`);
  const total = events.length + retried.length;
  await waitFor(
    `the panel to show ${total} events`,
    async () => (await page.getAttribute('#time-chart', 'data-total')) === String(total),
    30_000,
  );
  // Let the backfill leave the 5-second rate window, then send a steady trickle, so the rate tile
  // shows live traffic rather than the burst.
  await waitFor(
    'the backfill to leave the rate window',
    async () =>
      (await getJson<{ eventsPerSecond: number }>(`${stack.analyticsUrl}/api/v1/status`)).body
        .eventsPerSecond === 0,
    20_000,
    250,
  );
  for (let i = 0; i < 6; i++) {
    await publishEvents(
      stack.env.exchange,
      Array.from({ length: 7 }, (_, j) => ({
        cliente: CLIENTS[(i + j) % 3]?.[0] ?? 'cliente_uno',
        evento: 'view',
      })),
    );
    await sleep(400);
  }
  await waitFor(
    'the live update',
    async () => (await page.getAttribute('#time-chart', 'data-total')) === String(total + 42),
    10_000,
  );
  // Hover the chart, so the picture shows the readout of one minute.
  await page.mouse.move(560, 460);
  await page.screenshot({ path: out, fullPage: true });
  process.stderr.write(`panel-screenshot: wrote ${out} (${total + 42} demo events)\n`);
} finally {
  await browser.close();
  await stack.close();
}
