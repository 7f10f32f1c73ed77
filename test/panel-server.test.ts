// The panel server on its own: the page's <base> from Traefik's X-Forwarded-Prefix, assets
// (gzip, ETag), health, and the relay to a real analytics service (JSON routes, errors passed
// through, the event stream) and what it answers while analytics is away.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Report } from '../src/analytics/index.js';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { baseHref } from '../src/panel/assets.js';
import { build as buildPanel, type Panel } from '../src/panel/server.js';
import { freePort, getJson, publishRaw, type TestEnv, testEnv, tmpdir, waitFor } from './support/helpers.js';
import { ensurePanelBuilt } from './support/panel-fixture.js';

const log = createLogger('silent');

describe('baseHref (X-Forwarded-Prefix → <base>)', () => {
  it('puts the prefix with one trailing slash, or / without a usable header', () => {
    assert.equal(baseHref('/panel'), '/panel/');
    assert.equal(baseHref('/panel/'), '/panel/');
    assert.equal(baseHref(['/panel', '/other']), '/panel/');
    assert.equal(baseHref('/panel, /x'), '/panel/');
    assert.equal(baseHref(undefined), '/');
    assert.equal(baseHref(''), '/');
    assert.equal(baseHref('"><script>alert(1)</script>'), '/');
    assert.equal(baseHref('/a/../b'), '/');
    assert.equal(baseHref('//evil.example'), '/');
  });
});

describe('panel server', () => {
  let env: TestEnv;
  let deadUrl: string;
  let panel: Panel;

  before(async () => {
    ensurePanelBuilt();
    env = testEnv('panel_srv');
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    panel = buildPanel(loadConfig({ ...env.env, ANALYTICS_URL: deadUrl }), log);
  });
  after(async () => {
    await panel?.close();
    await env?.cleanup();
  });

  it('serves the page with a <base> for the prefix Traefik stripped, and a strict CSP', async () => {
    const direct = await panel.app.inject({ url: '/' });
    assert.equal(direct.statusCode, 200);
    assert.match(direct.body, /<base href="\/">/);
    assert.match(String(direct.headers['content-security-policy']), /default-src 'self'/);
    const proxied = await panel.app.inject({ url: '/', headers: { 'x-forwarded-prefix': '/panel' } });
    assert.match(proxied.body, /<base href="\/panel\/">/);
    assert.match(proxied.body, /<script type="module" src="app.js">/);
    assert.equal((await panel.app.inject({ url: '/index.html' })).statusCode, 404);
  });

  it('serves the assets gzipped when asked, with an ETag that answers 304', async () => {
    const js = await panel.app.inject({ url: '/app.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['content-encoding'], 'gzip');
    const plain = gunzipSync(js.rawPayload).toString();
    assert.ok(plain.length > js.rawPayload.length, 'gzip makes it smaller');
    const again = await panel.app.inject({
      url: '/app.js',
      headers: { 'if-none-match': String(js.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    const css = await panel.app.inject({ url: '/app.css' });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.match(css.body, /\.uplot/);
    const missing = await panel.app.inject({ url: '/nothing.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error, 'not_found');
  });

  it('is alive and ready while analytics is away, and says analytics does not answer', async () => {
    assert.deepEqual((await panel.app.inject({ url: '/healthz' })).json(), { status: 'ok' });
    const ready = await panel.app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', page: true, analytics: false });
  });

  it('answers 503 analytics_unavailable, naming ANALYTICS_URL but not its value, for data and the stream', async () => {
    for (const url of ['/api/status', '/api/report', '/api/stream']) {
      const res = await panel.app.inject({ url });
      assert.equal(res.statusCode, 503, url);
      assert.equal(res.headers['retry-after'], '2');
      const body = res.json();
      assert.equal(body.error, 'analytics_unavailable');
      assert.ok(!body.message.includes(deadUrl), `no internal URL: ${body.message}`);
      assert.match(body.message, /ANALYTICS_URL/);
    }
  });

  it('refuses to start without a built page, naming the command that builds it', async () => {
    const bare = buildPanel(loadConfig({ ...env.env, PANEL_PORT: '0' }), log, { assetsDir: tmpdir() });
    await assert.rejects(bare.start(), /scripts\/build-panel\.mjs/);
    assert.equal((await bare.app.inject({ url: '/readyz' })).statusCode, 503);
    await bare.close();
  });
});

describe('panel relay to a running analytics', () => {
  let env: TestEnv;
  let analytics: ReturnType<typeof buildAnalytics>;
  let panel: Panel;
  let panelUrl: string;

  before(async () => {
    ensurePanelBuilt();
    env = testEnv('panel_relay');
    const [analyticsPort, panelPort] = await Promise.all([freePort(), freePort()]);
    const config = loadConfig({
      ...env.env,
      ANALYTICS_PORT: String(analyticsPort),
      PANEL_PORT: String(panelPort),
      ANALYTICS_URL: `http://127.0.0.1:${analyticsPort}`,
      RETENTION_INTERVAL_S: '0',
    });
    analytics = buildAnalytics(config, log);
    await analytics.start();
    await waitFor(
      'analytics ready',
      async () => (await analytics.app.inject({ url: '/readyz' })).statusCode === 200,
    );
    panel = buildPanel(config, log);
    await panel.start();
    panelUrl = `http://127.0.0.1:${panelPort}`;
  });
  after(async () => {
    await panel?.close();
    await analytics?.close();
    await env?.cleanup();
  });

  it('passes the query and the answer through, errors included', async () => {
    await publishRaw(env.exchange, [
      JSON.stringify({
        id: randomUUID(),
        cliente: 'cliente_uno',
        evento: 'click',
        timestamp: '2025-04-13T12:00:30Z',
        usuario: 'u1',
      }),
      JSON.stringify({
        id: randomUUID(),
        cliente: 'cliente_dos',
        evento: 'view',
        timestamp: '2025-04-13T12:01:00Z',
      }),
    ]);
    await waitFor(
      'two counted',
      async () => (await getJson<Report>(`${panelUrl}/api/report`)).body.total === 2,
    );
    const report = await getJson(`${panelUrl}/api/report?cliente=cliente_dos&from=2025-04-13T12:00:00Z`);
    assert.deepEqual(report.body, {
      from: '2025-04-13T12:00:00Z',
      to: null,
      total: 1,
      clientes: [{ cliente: 'cliente_dos', total: 1, eventos: { view: 1 } }],
    });
    const series = await getJson<{ bucket: string; points: unknown[] }>(
      `${panelUrl}/api/timeseries?bucket=minute&from=2025-04-13T12:00:00Z&to=2025-04-13T13:00:00Z`,
    );
    assert.deepEqual(series.body.points, [
      { t: '2025-04-13T12:00:00Z', count: 1 },
      { t: '2025-04-13T12:01:00Z', count: 1 },
    ]);
    // The page's users tile and line read /api/v1/uniques through the relay too.
    const uniques = await getJson(
      `${panelUrl}/api/uniques?bucket=minute&from=2025-04-13T12:00:00Z&to=2025-04-13T13:00:00Z`,
    );
    assert.deepEqual(uniques.body, {
      from: '2025-04-13T12:00:00Z',
      to: '2025-04-13T13:00:00Z',
      bucket: 'minute',
      usuarios: 1,
      points: [{ t: '2025-04-13T12:00:00Z', usuarios: 1 }],
    });
    const badUniques = await getJson<{ error: string }>(`${panelUrl}/api/uniques?bucket=week`);
    assert.equal(badUniques.status, 400);
    const status = await getJson<{ queue: { consumers: number }; processed: number }>(
      `${panelUrl}/api/status`,
    );
    assert.equal(status.body.queue.consumers, 1);
    assert.equal(status.body.processed, 2);
    const bad = await getJson<{ error: string }>(`${panelUrl}/api/timeseries?bucket=week`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_query');
    const ready = await getJson(`${panelUrl}/readyz`);
    assert.deepEqual(ready.body, { status: 'ready', page: true, analytics: true });
  });

  it('relays the event stream: one `batch` message per committed batch', async () => {
    const received = new Promise<string>((resolve, reject) => {
      const req = request(`${panelUrl}/api/stream`, (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/event-stream/);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          const m = /event: batch\ndata: (.*)\n\n/.exec(buf);
          if (m?.[1]) {
            req.destroy();
            resolve(m[1]);
          }
        });
        // Publish once the stream is open, so the batch cannot be missed.
        void publishRaw(env.exchange, [
          JSON.stringify({
            id: randomUUID(),
            cliente: 'cliente_uno',
            evento: 'view',
            timestamp: new Date().toISOString(),
          }),
        ]).catch(reject);
      });
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
      req.end();
    });
    const batch = JSON.parse(await received) as { counted: number; duplicates: number; at: string };
    assert.equal(batch.counted, 1);
    assert.equal(batch.duplicates, 0);
    assert.ok(Date.parse(batch.at) > 0);
  });

  it('each viewer behind the proxy is its own address for the stream limit, not the panel as one', async () => {
    const open: ReturnType<typeof request>[] = [];
    const stream = (forwardedFor: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${panelUrl}/api/stream`,
          { headers: { 'x-forwarded-for': forwardedFor } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', (err) => {
          if (!req.destroyed) reject(err);
        });
        req.end();
        open.push(req);
      });
    try {
      // STREAM_MAX_PER_ADDRESS is 16 by default: 20 viewers with their own addresses all get a stream.
      const viewers = await Promise.all(Array.from({ length: 20 }, (_, i) => stream(`203.0.113.${i + 1}`)));
      assert.deepEqual(viewers, Array(20).fill(200));
      // One viewer past the limit is still refused.
      const same = [];
      for (let i = 0; i < 16; i++) same.push(await stream('198.51.100.7'));
      assert.deepEqual(same, Array(16).fill(200));
      assert.equal(await stream('198.51.100.7'), 503, 'the 17th stream of one viewer is refused');
    } finally {
      for (const req of open) req.destroy();
    }
  });
});
