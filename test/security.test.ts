// Security checks: error bodies never leak stack traces or file paths, SQL-looking query
// parameters are refused or treated as plain values, changing nothing, and nothing listens on the
// network without auth by accident.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { Reporte } from '../src/analytics/index.js';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { build as buildIngest } from '../src/ingest/service.js';
import { createLogger } from '../src/log.js';
import { build as buildPanel } from '../src/panel/server.js';
import { renderStatic } from '../src/stack/traefik-config.js';
import { freePort, publishRaw, testEnv, waitFor, warren } from './support/helpers.js';
import { LOG_LEVEL, startIngest } from './support/ingest-fixture.js';

// A stack frame, an absolute path of this checkout, or a source file position.
const LEAK = /\n\s+at |\/work\/|node_modules|\.ts:\d|\.js:\d|\/root\/|\/tmp\//;

function assertNoLeak(body: string, what: string): void {
  assert.doesNotMatch(body, LEAK, `${what} leaks internals: ${body.slice(0, 300)}`);
  const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
  assert.equal(typeof parsed.error, 'string', what);
  assert.equal(typeof parsed.message, 'string', what);
}

test('ingest error bodies are the JSON error shape, with no stack trace or path', async (t) => {
  const f = await startIngest(t);
  const cases: [string, unknown, Record<string, string>?][] = [
    ['/events', '{"cliente": '],
    ['/events', '{"__proto__": {"x": 1}, "evento": "a"}'],
    ['/events', 'x'.repeat(2 * 1024 * 1024)],
    ['/events', '{"evento": "a"}', { 'content-type': 'text/plain' }],
    ['/events', [{ evento: '../../etc/passwd', cliente: "'; DROP TABLE totals; --" }]],
    ['/events', { evento: 'a', timestamp: '2025-02-30T00:00:00Z' }],
    ['/nope', {}],
  ];
  for (const [url, body, headers] of cases) {
    const res = await f.post(url, body, headers);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode}`);
    assertNoLeak(res.body, `${url} ${String(body).slice(0, 40)}`);
  }
});

test('analytics refuses SQL-looking parameters with a clean 400 and the counts do not change', async (t) => {
  const te = testEnv('sec');
  const config = loadConfig({ ...te.env, LOG_LEVEL, ANALYTICS_PORT: '0' });
  const svc = buildAnalytics(config, createLogger(LOG_LEVEL, 'analytics'));
  t.after(async () => {
    await svc.close();
    await te.cleanup();
  });
  await svc.start();
  await waitFor('ready', async () => (await svc.app.inject({ url: '/readyz' })).statusCode === 200, 20_000);
  await publishRaw(te.exchange, [
    JSON.stringify({ id: 's1', cliente: 'a', evento: 'click', timestamp: '2025-04-13T12:00:00Z' }),
    JSON.stringify({ id: 's2', cliente: 'b', evento: 'view', timestamp: '2025-04-13T12:00:00Z' }),
  ]);
  const reporte = async () => JSON.parse((await svc.app.inject({ url: '/reporte' })).body) as Reporte;
  await waitFor('counted', async () => (await reporte()).total === 2);
  const before = (await svc.app.inject({ url: '/reporte' })).body;
  const attempts = [
    "a' OR '1'='1",
    'a; DROP TABLE totals; --',
    'a" OR 1=1 --',
    "' UNION SELECT id, id, 1 FROM seen_ids --",
    'a%00b',
    '1) OR (1=1',
  ];
  const params: Record<string, string[]> = {
    '/api/v1/report': ['cliente', 'evento', 'from', 'to'],
    '/api/v1/timeseries': ['cliente', 'evento', 'from', 'to', 'bucket'],
    '/api/v1/export': ['cliente', 'evento', 'from', 'to', 'bucket', 'format'],
  };
  for (const [path, names] of Object.entries(params)) {
    for (const param of names) {
      for (const value of attempts) {
        const res = await svc.app.inject({ url: `${path}?${param}=${encodeURIComponent(value)}` });
        assert.equal(res.statusCode, 400, `${path}?${param}=${value}`);
        assertNoLeak(res.body, `${path}?${param}`);
      }
    }
  }
  assert.equal((await svc.app.inject({ url: '/reporte' })).body, before);
});

test('every port listens on 127.0.0.1 by default, the proxy and the dashboard included', () => {
  const config = loadConfig({});
  assert.equal(config.host, '127.0.0.1');
  const traefik = renderStatic({ host: config.host, proxyPort: 8000, apiPort: 8081 }, 'dynamic.yml');
  assert.deepEqual(
    Object.values(traefik.entryPoints).map((e) => e.address),
    ['127.0.0.1:8000', '127.0.0.1:8081'],
  );
  assert.deepEqual(
    Object.values(renderStatic({ host: '0.0.0.0', proxyPort: 80, apiPort: 8081 }, 'd.yml').entryPoints).map(
      (e) => e.address,
    ),
    [':80', ':8081'],
    'HOST=0.0.0.0 is the one setting that exposes them',
  );
});

test('on a non-loopback HOST nothing is served without auth: exit 2 with one line naming the variable', async (t) => {
  const te = testEnv('exposure');
  t.after(() => te.cleanup());
  const env = { ...te.env, HOST: '0.0.0.0', STACK_DIR: join(te.dir, 'stack') };
  const dashboard = { TRAEFIK_DASHBOARD_USER: 'admin', TRAEFIK_DASHBOARD_PASSWORD: 'pw' };
  const cases: [string[], Record<string, string>, string][] = [
    [['up'], {}, 'TRAEFIK_DASHBOARD_USER'],
    [['up'], dashboard, 'INGEST_AUTH'],
    [['up'], { ...dashboard, INGEST_AUTH: 'keys' }, 'READ_USER'],
    [['up'], { ...dashboard, INGEST_AUTH: 'keys', READ_USER: 'r' }, 'READ_PASSWORD'],
    [['ingest'], {}, 'INGEST_AUTH'],
  ];
  for (const [args, extra, variable] of cases) {
    const p = warren(args, { ...env, ...extra });
    const what = `${args.join(' ')} ${JSON.stringify(extra)}`;
    assert.equal(await p.exited, 2, `${what}: ${p.output()}`);
    const lines = p.output().trim().split('\n');
    assert.equal(lines.length, 1, `${what}: one line, got ${p.output()}`);
    assert.match(lines[0]!, new RegExp(`\\b${variable}\\b`), what);
    assert.doesNotMatch(p.output(), /started \(pid|listening/, `${what}: nothing started`);
  }
  // Keys mode (what compose runs, HOST=0.0.0.0 inside a container) or the explicit flag is allowed.
  const log = createLogger('silent');
  for (const extra of [{ INGEST_AUTH: 'keys' }, { ALLOW_UNAUTHENTICATED: 'true' }]) {
    const svc = buildIngest(loadConfig({ ...env, ...extra }), log);
    await svc.close();
  }
});

test("the panel's 503 names no internal URL or socket error; its log does", async (t) => {
  const port = await freePort(); // nothing listens there: analytics is down
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const panel = buildPanel(loadConfig({ ANALYTICS_URL: `http://127.0.0.1:${port}` }), log);
  t.after(() => panel.close());
  for (const url of ['/api/report', '/api/timeseries?bucket=minute', '/api/status', '/api/stream']) {
    const res = await panel.app.inject({ url });
    assert.equal(res.statusCode, 503, url);
    assert.equal(res.headers['retry-after'], '2', url);
    assertNoLeak(res.body, url);
    assert.doesNotMatch(res.body, new RegExp(`${port}|127\\.0\\.0\\.1|ECONNREFUSED|fetch failed|http:`), url);
    assert.equal(JSON.parse(res.body).error, 'analytics_unavailable', url);
  }
  // The operator still learns where and why, from the log.
  await waitFor(
    'logged',
    () => lines.some((l) => l.includes(`127.0.0.1:${port}`) && /ECONNREFUSED|fetch failed/.test(l)),
    2000,
  );
});
