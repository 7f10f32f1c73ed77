// Ids are scoped per client, end to end (CONTRACT.md, "Event"): in keyed mode, a client holding its
// own key sends the ids another client will use (the same Idempotency-Key, a known UUID) first;
// the other client's events are still counted, and its own retry still counts once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reporte } from '../src/analytics/index.js';
import { addKey } from '../src/ingest/keys.js';
import { freePort, getJson, testEnv, untilReady, waitFor, warren } from './support/helpers.js';
import { json, startIngest } from './support/ingest-fixture.js';

test("one client's ids cannot suppress another's events; a client's own retry counts once", async (t) => {
  const te = testEnv('ids_per_client');
  const victim = addKey(te.env.API_KEYS_FILE!, 'cliente_a');
  const attacker = addKey(te.env.API_KEYS_FILE!, 'cliente_b');
  const f = await startIngest(t, { INGEST_AUTH: 'keys' }, { te });
  const port = await freePort();
  const analytics = warren(['analytics'], { ...te.env, ANALYTICS_PORT: String(port), LOG_LEVEL: 'warn' });
  t.after(() => analytics.kill());
  const base = `http://127.0.0.1:${port}`;
  await untilReady(analytics, base, { timeoutMs: 90_000 });

  const uuid = '0193a8f2-7c1e-7d6a-9f3b-2b8f1e0c4a11';
  const send = async (key: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await f.post('/events', body, { authorization: `Bearer ${key}`, ...headers });
    assert.equal(res.statusCode, 202, res.body);
    return json<{ ids: string[] }>(res).ids;
  };
  // The attacker goes first, with the key and the id the victim is about to use.
  const order = { 'idempotency-key': 'order-42' };
  assert.deepEqual(await send(attacker, [{ evento: 'buy' }, { evento: 'buy' }], order), [
    'order-42:0',
    'order-42:1',
  ]);
  assert.deepEqual(await send(attacker, { id: uuid, evento: 'view' }), [uuid]);
  // The victim's events, then its retry of the same request (same Idempotency-Key).
  assert.deepEqual(await send(victim, [{ evento: 'buy' }, { evento: 'buy' }], order), [
    'order-42:0',
    'order-42:1',
  ]);
  await send(victim, [{ evento: 'buy' }, { evento: 'buy' }], order);
  await send(victim, { id: uuid, evento: 'view' });

  const expected: Reporte = { total: 6, clientes: { cliente_a: 3, cliente_b: 3 } };
  const status = async () =>
    (await getJson<{ processed: number; duplicates: number }>(`${base}/api/v1/status`)).body;
  await waitFor('every event seen', async () => {
    const s = await status();
    return s.processed + s.duplicates === 8;
  });
  assert.deepEqual((await getJson<Reporte>(`${base}/reporte`)).body, expected);
  assert.equal((await status()).duplicates, 2, "only the victim's own retry is a duplicate");
});
