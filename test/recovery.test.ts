// Channel-level failures: a queue or exchange deleted under a running service closes a channel,
// not the connection. The services start over on a new connection, declare the topology again,
// and carry on by themselves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import type { Reporte } from '../src/analytics/index.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  publishRaw,
  testEnv,
  untilReady,
  waitFor,
  warren,
} from './support/helpers.js';
import { seenIds } from './support/ids.js';
import { startIngest } from './support/ingest-fixture.js';

async function onChannel(fn: (ch: amqp.Channel) => Promise<unknown>): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    await fn(await conn.createChannel());
  } finally {
    await conn.close();
  }
}

const ev = (id: string) =>
  JSON.stringify({ id, cliente: 'r', evento: 'click', timestamp: '2025-04-13T12:00:00Z' });

test('analytics resubscribes after its queue is deleted, and counts what comes next', async (t) => {
  const te = testEnv('recq');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const a = warren(['analytics'], { ...te.env, ANALYTICS_PORT: String(port) });
  t.after(async () => {
    await a.kill();
    await te.cleanup();
  });
  await untilReady(a, base);
  await publishRaw(te.exchange, [ev('a1')]);
  await waitFor('first counted', async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 1);
  await onChannel((ch) => ch.deleteQueue(te.queue));
  await waitFor(
    'the consumer came back on a redeclared queue',
    async () => {
      const s = (await getJson<{ queue: { consumers: number | null } }>(`${base}/api/v1/status`)).body;
      return s.queue.consumers === 1;
    },
    30_000,
  );
  await publishRaw(te.exchange, [ev('a2'), ev('a3')]);
  await waitFor(
    'counted after recovery',
    async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 3,
    30_000,
  );
  assert.match(a.output(), /reconnecting to RabbitMQ to recover a closed channel/);
});

test('ingest recovers when its exchange is deleted: 503 meanwhile, never a lost 202', async (t) => {
  const f = await startIngest(t);
  const port = await freePort();
  const a = warren(['analytics'], { ...f.te.env, ANALYTICS_PORT: String(port) });
  t.after(() => a.kill());
  await waitFor(
    'analytics ready',
    async () => (await getJson(`http://127.0.0.1:${port}/readyz`)).status === 200,
  );
  const accepted: string[] = [];
  const post = async () => {
    const res = await f.post('/events', { cliente: 'r', evento: 'click' });
    if (res.statusCode === 202) accepted.push(...(res.json() as { ids: string[] }).ids);
    return res;
  };
  const ok = await post();
  assert.equal(ok.statusCode, 202);
  await onChannel(async (ch) => {
    await ch.deleteExchange(f.te.exchange);
  });
  // The first publish after the deletion fails on the broker (404 closes the channel): 503.
  const statuses: number[] = [];
  await waitFor(
    '202 again after the topology was declared again',
    async () => {
      const res = await post();
      statuses.push(res.statusCode);
      return res.statusCode === 202;
    },
    30_000,
    200,
  );
  assert.ok(
    statuses.every((s) => s === 202 || s === 503),
    `only 202 or 503: ${statuses.join(',')}`,
  );
  // Every 202 counted, once: the ids the gateway answered are in the store, and nothing else.
  await waitFor(
    'every accepted id counted',
    async () => (await getJson<Reporte>(`http://127.0.0.1:${port}/reporte`)).body.total >= accepted.length,
    30_000,
  ).catch(() => undefined);
  const seen = await seenIds(f.te.dbPath);
  assert.deepEqual(
    accepted.filter((id) => !seen.has(id)),
    [],
    'an id answered 202 was never counted',
  );
  assert.deepEqual((await getJson(`http://127.0.0.1:${port}/reporte`)).body, {
    total: accepted.length,
    clientes: { r: accepted.length },
  });
});
