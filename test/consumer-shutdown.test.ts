// Shutdown after a store failure (DESIGN.md, "A multiple-ack covers everything before it"): the
// store fails for batch 1, close() arrives while the consumer backs off, and batch 2 (already in
// the buffer) commits. Its ack must not cover batch 1, which was never committed: after a restart
// with a working store every published id is counted, once. Real broker, real SQLite store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import { AnalyticsHandler } from '../src/analytics/consumer.js';
import { createMetrics } from '../src/analytics/metrics.js';
import { BrokerConnection } from '../src/broker/connection.js';
import { BatchingConsumer } from '../src/broker/consumer.js';
import { loadConfig } from '../src/config.js';
import type { ParsedEvent } from '../src/event.js';
import { createLogger } from '../src/log.js';
import { SqliteStore, type Store } from '../src/store/index.js';
import { declare } from '../src/topology.js';
import { AMQP_URL, publishRaw, testEnv, waitFor } from './support/helpers.js';

const log = createLogger('silent');

/** Messages ready and unacknowledged in a queue, from the management API. */
async function queueCounts(queue: string): Promise<{ ready: number; unacked: number }> {
  const res = await fetch(`http://127.0.0.1:15672/api/queues/%2F/${encodeURIComponent(queue)}`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  const q = (await res.json()) as { messages_ready?: number; messages_unacknowledged?: number };
  return { ready: q.messages_ready ?? -1, unacked: q.messages_unacknowledged ?? -1 };
}

/** A store whose commit() may be replaced, recording the ids of every commit that succeeded. */
function wrap(
  inner: Store,
  committed: Set<string>,
  before?: (events: ParsedEvent[]) => Promise<void>,
): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return async (events: ParsedEvent[]) => {
          await before?.(events);
          const r = await target.commit(events);
          for (const e of events) if (e.id !== undefined) committed.add(e.id);
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function consumerOn(config: ReturnType<typeof loadConfig>, store: Store) {
  const broker = new BrokerConnection({ urls: [AMQP_URL], log, name: 'test-shutdown' });
  broker.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: false });
    await ch.close();
  });
  const handler = new AnalyticsHandler(() => store, createMetrics(), config.topicPattern);
  const consumer = new BatchingConsumer(broker, {
    queue: config.queue,
    prefetch: config.prefetch,
    batchSize: config.batchSize,
    batchWaitMs: config.batchWaitMs,
    handler: handler.handle,
    log,
  });
  broker.start();
  return { broker, consumer };
}

test('a batch the store refused is not acked by a later batch when the consumer closes', async () => {
  const env = testEnv('shut');
  const config = loadConfig({ ...env.env, BATCH_SIZE: '5', PREFETCH: '100', BATCH_WAIT_MS: '10' });
  const store = new SqliteStore(env.dbPath);
  await store.migrate();
  const ids = Array.from({ length: 20 }, (_, i) => `shut-${i}`);
  try {
    const conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: false });
    await conn.close();
    await publishRaw(
      env.exchange,
      ids.map((id) =>
        JSON.stringify({ id, cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T12:00:00Z' }),
      ),
    );

    // Run 1: the first commit waits until all 20 deliveries are in hand, then fails; close()
    // arrives during the backoff, and the later batches in the buffer still commit.
    const committed = new Set<string>();
    let calls = 0;
    let closed: Promise<void> | undefined;
    let first: ReturnType<typeof consumerOn> | undefined;
    const failing = wrap(store, committed, async () => {
      calls++;
      if (calls !== 1) return;
      await waitFor('all 20 deliveries in hand', async () => {
        const q = await queueCounts(env.queue);
        return q.ready === 0 && q.unacked === 20;
      });
      closed = first!.consumer.close().then(() => first!.broker.close());
      throw Object.assign(new Error('disk I/O error (injected)'), { code: 'SQLITE_IOERR' });
    });
    first = consumerOn(config, failing);
    await waitFor('close() after the failed batch', () => closed !== undefined, 30_000);
    await closed;
    assert.ok(committed.size > 0, 'a later batch committed during shutdown (the scenario happened)');
    assert.ok(committed.size < 20, 'the refused batch was not committed in run 1');

    // Run 2: a working store; whatever run 1 did not commit comes back from the broker.
    const second = consumerOn(config, wrap(store, committed));
    try {
      await waitFor(
        'every id committed and the queue empty',
        async () => {
          const q = await queueCounts(env.queue);
          return committed.size === 20 && q.ready === 0 && q.unacked === 0;
        },
        30_000,
      );
    } finally {
      await second.consumer.close();
      await second.broker.close();
    }
    assert.deepEqual([...committed].sort(), [...ids].sort());
    const totals = await store.clientTotals();
    assert.deepEqual(totals, [{ cliente: 'cliente_uno', count: 20 }]);
    const seen = store.db.prepare('SELECT id FROM seen_ids ORDER BY id').all() as { id: string }[];
    assert.deepEqual(
      seen.map((r) => r.id),
      [...ids].sort(),
    );
  } finally {
    await store.close();
    await env.cleanup();
  }
});
