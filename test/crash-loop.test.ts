// A crash loop must not dead-letter valid events unseen: analytics is SIGKILLed 25 times while it
// holds deliveries of a backlog, with a small x-delivery-limit, so the broker dead-letters valid
// events (x-death delivery_limit). /api/v1/status and `warren dlq list` show them as valid and
// replayable, apart from invalid ones; `warren dlq replay --all` then brings the counts to exactly
// the confirmed ids (checked by id).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import type { ReconcileAnswer, Reporte, Status } from '../src/analytics/index.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  queueDepth,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';

const EVENTS = 3000;
const KILLS = 25;

/** Waits until reconcile is settled and balanced (reports and events all applied). */
async function reconciled(what: string): Promise<ReconcileAnswer> {
  return waitFor(
    what,
    async () => {
      const a = (await getJson<ReconcileAnswer>(`${base}/api/v1/reconcile`)).body;
      return a.status === 'balanced' ? a : undefined;
    },
    30_000,
    250,
  );
}

let env: TestEnv;
let vars: Record<string, string>;
let base = '';

before(async () => {
  env = testEnv('crash');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Batches wait 400 ms to fill (BATCH_SIZE above PREFETCH): a kill right after the deliveries
  // arrive finds them held and not committed, so the same head of the queue returns each time.
  vars = {
    ...env.env,
    DELIVERY_LIMIT: '3',
    PREFETCH: '200',
    BATCH_SIZE: '1000',
    BATCH_WAIT_MS: '400',
    ANALYTICS_PORT: String(port),
  };
  const topo = warren(['topology'], vars);
  assert.equal(await topo.exited, 0, topo.output());
});

after(async () => {
  await env.cleanup();
});

/** Publishes with confirms; returns the confirmed ids. */
async function publishBacklog(): Promise<string[]> {
  const ids = Array.from({ length: EVENTS }, (_, i) => `crash-${i}`);
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    for (const id of ids) {
      const body = { id, cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T12:00:00Z' };
      ch.publish(env.exchange, '', Buffer.from(JSON.stringify(body)), { persistent: true, messageId: id });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
  return ids;
}

async function consumers(): Promise<number> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    return (await (await conn.createChannel()).checkQueue(env.queue)).consumerCount;
  } finally {
    await conn.close();
  }
}

async function status(): Promise<Status> {
  return (await getJson<Status>(`${base}/api/v1/status`)).body;
}

const total = async () => (await getJson<Reporte>(`${base}/reporte`)).body.total;

async function run(args: string[]): Promise<{ code: number | null; stdout: string; output: string }> {
  const p = warren(args, vars);
  const code = await p.exited;
  return { code, stdout: p.stdout(), output: p.output() };
}

test('25 SIGKILLs mid-backlog: valid dead letters are shown as replayable, and replay makes the counts exact', async () => {
  const ids = await publishBacklog();
  let kills = 0;
  let analytics: WarrenProcess | undefined;
  try {
    while (kills < KILLS) {
      const depth = await queueDepth(env.queue);
      analytics = warren(['analytics'], vars);
      // Every fifth run counts a batch first (mid-backlog); the others die holding deliveries,
      // so the head of the queue comes back more often than DELIVERY_LIMIT allows.
      if (kills % 5 === 4 && depth > 0)
        await waitFor('a batch counted', async () => (await status()).processed > 0, 60_000, 20);
      else if (depth > 0)
        await waitFor('deliveries in hand', async () => (await queueDepth(env.queue)) < depth, 60_000, 10);
      analytics.child.kill('SIGKILL');
      await analytics.exited;
      kills++;
      // The broker has seen the consumer go and put its deliveries back (or dead-lettered them).
      await waitFor('no consumer left', async () => (await consumers()) === 0, 30_000, 20);
    }
    const dead = await queueDepth(env.dlq);
    assert.ok(dead > 0, 'the crash loop dead-lettered valid events (the scenario happened)');

    analytics = warren(['analytics'], vars);
    await waitFor(
      'every event counted or dead-lettered',
      // At least: a run killed between its commit and its ack may see counted events dead-lettered
      // too (replay then finds their ids known).
      async () =>
        (await total()) + (await queueDepth(env.dlq)) >= EVENTS && (await queueDepth(env.queue)) === 0,
      120_000,
      200,
    );
    const s = await waitFor('the dead letters by kind', async () => {
      const st = await status();
      return st.deadLettersDetail?.valid === st.deadLetters ? st : undefined;
    });
    assert.ok((s.deadLetters ?? 0) >= EVENTS - (await total()));
    assert.deepEqual(s.deadLettersDetail, { valid: s.deadLetters, invalid: 0, unscanned: 0 });
    const list = await run(['dlq', 'list']);
    assert.equal(list.code, 0, list.output);
    assert.match(list.stdout, /death=delivery_limit {2}\[valid, replayable\]/);
    assert.doesNotMatch(list.stdout, /\[invalid\]/);
    assert.match(
      list.output,
      new RegExp(`${s.deadLetters} dead letters in .*: ${s.deadLetters} valid, replayable`),
    );

    const replay = await run(['dlq', 'replay', '--all']);
    assert.equal(replay.code, 0, replay.output);
    assert.match(
      replay.stdout,
      new RegExp(`^${s.deadLetters} replayed, 0 still invalid, 0 unroutable$`, 'm'),
    );
    let last = '';
    await waitFor(
      'the replayed events counted',
      async () => {
        const [t, d, q] = [await total(), await queueDepth(env.dlq), await queueDepth(env.queue)];
        last = `total ${t}, dead letters ${d}, queue ${q}`;
        return t === EVENTS && d === 0;
      },
      60_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${last})`);
    });
    const end = await status();
    assert.deepEqual(end.deadLettersDetail, { valid: 0, invalid: 0, unscanned: 0 });
    // The backlog came from a plain AMQP client (no reports): reconcile shows every event as
    // counted once under `unreported`, nothing left dead, and balances.
    const after = await reconciled('reconcile balanced after the replay');
    assert.deepEqual(
      [after.totals.unreported, after.totals.counted, after.totals.dead_valid, after.totals.accepted],
      [EVENTS, 0, 0, 0],
    );
  } finally {
    await analytics?.kill();
  }
  // By id: exactly the confirmed ids, each once (the store's unique key holds one row per id).
  const db = new Database(env.dbPath, { readonly: true });
  try {
    const seen = (db.prepare('SELECT id FROM seen_ids ORDER BY id').all() as { id: string }[]).map(
      (r) => r.id,
    );
    assert.deepEqual(seen, [...ids].sort());
  } finally {
    db.close();
  }
  assert.equal(kills, KILLS);
});
