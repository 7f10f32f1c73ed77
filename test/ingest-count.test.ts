// End to end through real processes: `warren ingest` as a child, the real analytics service
// in-process, the shared broker. The seed's /send call is counted for the right client, a batch
// of 1,000 exactly, a retried request (same Idempotency-Key) once; SIGTERM stops ingest cleanly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reporte } from '../src/analytics/index.js';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { freePort, getJson, testEnv, untilReady, waitFor, warren } from './support/helpers.js';
import { LOG_LEVEL } from './support/ingest-fixture.js';

test('the seed call and a batch of 1,000 through `warren ingest` are counted exactly', async (t) => {
  const te = testEnv('ingest_count');
  const analytics = buildAnalytics(
    loadConfig({ ...te.env, ANALYTICS_PORT: '0', LOG_LEVEL }),
    createLogger(LOG_LEVEL, 'analytics'),
  );
  const port = await freePort();
  const ingest = warren(['ingest'], { ...te.env, INGEST_PORT: String(port) });
  t.after(async () => {
    await ingest.kill('SIGKILL');
    await analytics.close();
    await te.cleanup();
  });
  const analyticsPort = await analytics.start();
  const base = `http://127.0.0.1:${port}`;
  await untilReady(ingest, base);
  assert.match(ingest.output(), /INGEST_AUTH=open/, 'open mode is logged at start');

  // curl -X POST http://localhost:5046/send -H "Content-Type: application/json" -d '{"message": "mensaje de prueba"}'
  const seed = await fetch(`${base}/send`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"message": "mensaje de prueba"}',
  });
  assert.equal(seed.status, 202);
  const named = await fetch(`${base}/send`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Client-Name': 'cliente_uno' },
    body: '{"message": "hola"}',
  });
  assert.equal(named.status, 202);

  const batch = JSON.stringify(
    Array.from({ length: 1000 }, (_, i) => ({ cliente: 'cliente_dos', evento: i % 2 ? 'click' : 'view' })),
  );
  const post = () =>
    fetch(`${base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'batch-1' },
      body: batch,
    });
  const first = await post();
  assert.equal(first.status, 202);
  const { accepted, ids } = (await first.json()) as { accepted: number; ids: string[] };
  assert.equal(accepted, 1000);
  assert.equal(new Set(ids).size, 1000);
  assert.equal((await post()).status, 202, 'a client retrying the same request');

  const want = { total: 1002, clientes: { cliente_x: 1, cliente_uno: 1, cliente_dos: 1000 } };
  const reporte = await waitFor(
    '/reporte to count every accepted event once',
    async () => {
      const r = await getJson<Reporte>(`http://127.0.0.1:${analyticsPort}/reporte`);
      return r.body.total >= want.total && r.body;
    },
    30_000,
  );
  assert.deepEqual(reporte, want);
  const status = await getJson<{ duplicates: number }>(`http://127.0.0.1:${analyticsPort}/api/v1/status`);
  assert.equal(status.body.duplicates, 1000, 'the retried batch was recognised, not counted');

  assert.equal(await ingest.kill('SIGTERM'), 0, 'SIGTERM: clean stop, exit code 0');
  assert.match(ingest.output(), /stopping ingest/);
});

test('a 2 MiB body over a real socket gets a 413 JSON answer, not a reset', async (t) => {
  const te = testEnv('ingest_big');
  const port = await freePort();
  const ingest = warren(['ingest'], { ...te.env, INGEST_PORT: String(port) });
  t.after(async () => {
    await ingest.kill('SIGKILL');
    await te.cleanup();
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('ingest up', async () => (await fetch(`${base}/healthz`)).status === 200, 30_000);
  const res = await fetch(`${base}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"message":"${'x'.repeat(2 << 20)}"}`,
  });
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { error: string }).error, 'too_large');
});
