// The alerts issue's "done when", end to end with every real part: `warren alerts add silence
// --cliente cliente_uno --minutes N --webhook URL`, cliente_uno (a `warren client`) sends and then
// stops, and a local receiver gets exactly one signed webhook, through analytics, the `alertas`
// exchange and `warren alerts deliver`; the panel, through Traefik in Chromium, shows the rule
// firing and the firing in its list; when cliente_uno comes back, one resolution arrives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verify } from '../src/alert.js';
import { Receiver } from './support/alert-delivery.js';
import { addRule, metric } from './support/alerts.js';
import { getJson, type WarrenProcess, waitFor, warren } from './support/helpers.js';
import { launchChromium, startPanelStack } from './support/panel-fixture.js';

const MINUTES = 0.1; // 6 s of silence
const SLACK_MS = 5_000; // the "within N minutes + 5 s"

test('a client that goes quiet: one signed webhook, shown in the panel; one resolution when it is back', async () => {
  const stack = await startPanelStack('alerte2e');
  const receiver = await Receiver.create();
  await receiver.listen();
  const vars = { ...stack.env.env, ANALYTICS_URL: stack.analyticsUrl, LOG_LEVEL: 'warn' };
  const procs: WarrenProcess[] = [];
  const browser = await launchChromium();
  try {
    const deliverer = warren(['alerts', 'deliver'], vars);
    procs.push(deliverer);
    const rule = await addRule(
      [
        'silence',
        '--cliente',
        'cliente_uno',
        '--minutes',
        String(MINUTES),
        '--webhook',
        `${receiver.url}/hook`,
      ],
      vars,
    );
    const counted = async () =>
      (await getJson<{ clientes: Record<string, number> }>(`${stack.analyticsUrl}/reporte`)).body.clientes
        .cliente_uno ?? 0;

    // cliente_uno sends, then stops (SIGTERM, as a user stops it).
    const client = warren(['client', '--name', 'cliente_uno', '--rate', '20'], vars);
    await waitFor('cliente_uno counted', async () => (await counted()) >= 20, 60_000);
    await client.kill();
    const stoppedAt = Date.now();
    const fired = () => receiver.received.filter((r) => JSON.parse(r.body).state === 'fired');
    await waitFor('one fired webhook', async () => fired().length >= 1, 60_000 * MINUTES + SLACK_MS + 10_000);
    const took = Date.now() - stoppedAt;
    assert.ok(took <= MINUTES * 60_000 + SLACK_MS, `fired ${took} ms after the client stopped`);
    const [hit] = fired();
    assert.ok(hit);
    assert.equal(hit.path, '/hook');
    assert.ok(
      verify(hit.body, String(hit.headers['x-warren-signature']), rule.secret),
      'signed with the secret',
    );
    const alert = JSON.parse(hit.body) as { id: string; rule: { id: string; cliente: string } };
    assert.equal(alert.rule.id, rule.id);
    assert.equal(alert.rule.cliente, 'cliente_uno');
    assert.equal(hit.headers['x-warren-alert-id'], alert.id);

    // It does not repeat while the silence holds: several evaluations later, still one.
    const evals = await metric(stack.analyticsUrl, 'warren_alert_evaluations_total');
    await waitFor(
      'five more evaluations',
      async () => (await metric(stack.analyticsUrl, 'warren_alert_evaluations_total')) >= evals + 5,
      60_000,
    );
    assert.equal(fired().length, 1, 'exactly one webhook while cliente_uno stays quiet');

    // The panel, through Traefik, shows the rule firing and the firing in its list.
    const page = await browser.newPage();
    await page.goto(`${stack.proxyUrl}/panel/`);
    await waitFor(
      'the panel shows the rule firing',
      async () =>
        (await page.locator(`#alert-rules li[data-rule="${rule.id}"] .rule-state`).textContent()) ===
        'FIRING',
      20_000,
    );
    const rows = await page.locator('#firings-body tr').allTextContents();
    assert.ok(
      rows.some((r) => /cliente_uno/.test(r)),
      `the firing listed: ${JSON.stringify(rows)}`,
    );

    // cliente_uno comes back: one resolution, signed, for the same episode.
    const again = warren(['client', '--name', 'cliente_uno', '--rate', '20'], vars);
    procs.push(again);
    const resolved = () => receiver.received.filter((r) => JSON.parse(r.body).state === 'resolved');
    await waitFor('one resolved webhook', async () => resolved().length >= 1, 30_000);
    const [res] = resolved();
    assert.ok(res && verify(res.body, String(res.headers['x-warren-signature']), rule.secret));
    assert.equal(
      (JSON.parse(res.body) as { episode_start: string }).episode_start,
      (JSON.parse(hit.body) as { episode_start: string }).episode_start,
    );
    await waitFor(
      'the panel shows the rule ok',
      async () =>
        (await page.locator(`#alert-rules li[data-rule="${rule.id}"] .rule-state`).textContent()) === 'OK',
      20_000,
    );
    assert.equal(fired().length, 1);
    assert.equal(resolved().length, 1);
  } catch (err) {
    process.stderr.write(`${stack.output()}\n${procs.map((p) => p.output()).join('\n')}\n`);
    throw err;
  } finally {
    await browser.close();
    for (const p of procs) await p.kill();
    await receiver.close();
    await stack.close();
  }
});
