// `warren dlq replay` and the dedupe horizon (README, "Dead letters, audit and replay"): a dead
// letter whose event is older than the horizon may have an id the store has forgotten, so
// replaying it could count it twice. Like `warren replay`, `dlq replay` leaves such dead letters
// in the DLQ and says so, unless --force; it refuses a SQLite DATABASE_URL with no store behind it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import amqp from 'amqplib';
import type { Store } from '../src/store/index.js';
import { PostgresStore, SqliteStore } from '../src/store/index.js';
import { AMQP_URL, freePort, getJson, queueDepth, testEnv, waitFor, warren } from './support/helpers.js';
import { type Db, ev, kinds, rows, withStore } from './support/store.js';

const DAY = 86_400;
const isoAt = (s: number) => new Date(s * 1000).toISOString();

async function commitAt(db: Db, s: number, events: ReturnType<typeof ev>[]): Promise<void> {
  const clock = { now: () => s * 1000 };
  const st: Store = db.url.startsWith('sqlite:')
    ? new SqliteStore(db.url.slice('sqlite:'.length), clock)
    : new PostgresStore(db.url, clock);
  try {
    await st.migrate();
    await st.commit(events);
  } finally {
    await st.close();
  }
}

async function toDlq(dlq: string, events: ReturnType<typeof ev>[]): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    for (const e of events) {
      const body = { id: e.id, cliente: e.cliente, evento: e.evento, timestamp: e.timestamp };
      ch.sendToQueue(dlq, Buffer.from(JSON.stringify(body)), { persistent: true, messageId: e.id });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

for (const kind of kinds) {
  describe(`dlq replay and the dedupe horizon: ${kind.name}`, () => {
    test('dead letters older than the horizon stay in the DLQ (counted once); --force replays them', () =>
      withStore(kind, async (store, db) => {
        const env = testEnv('dlqh');
        const procs: ReturnType<typeof warren>[] = [];
        try {
          const now = Math.floor(Date.now() / 1000);
          const old = [1, 2, 3].map((i) => ev(`old-${i}`, 'cliente_uno', 'old', isoAt(now - 30 * DAY + i)));
          const recent = [1, 2].map((i) => ev(`new-${i}`, 'cliente_uno', 'new', isoAt(now - 3600 + i)));
          await commitAt(db, now - 30 * DAY, old);
          await store.commit(recent);
          const prune = warren(['prune', '--json'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
          assert.equal(await prune.exited, 0, prune.output());
          assert.equal((JSON.parse(prune.stdout()) as { idsPruned: number }).idsPruned, 3);

          const vars = { ...env.env, DATABASE_URL: db.url, RETENTION_INTERVAL_S: '0' };
          const port = await freePort();
          procs.push(warren(['analytics'], { ...vars, ANALYTICS_PORT: String(port) }));
          const base = `http://127.0.0.1:${port}`;
          await waitFor(
            'analytics ready',
            async () => (await fetch(`${base}/readyz`)).status === 200,
            90_000,
          );
          const status = async () =>
            (await getJson<{ processed: number; duplicates: number }>(`${base}/api/v1/status`)).body;
          // Copies of the five counted events reach the DLQ (a crash loop between commit and ack).
          await toDlq(env.dlq, [...old, ...recent]);

          const replay = warren(['dlq', 'replay', '--all'], vars);
          procs.push(replay);
          assert.equal(await replay.exited, 0, replay.output());
          assert.match(
            replay.stdout(),
            /^2 replayed, 0 still invalid, 0 unroutable, 3 older than the dedupe horizon/m,
          );
          assert.match(replay.stdout(), /id=old-1: older than the dedupe horizon .*left in the DLQ.*--force/);
          await waitFor(
            'the two recent ones seen as duplicates',
            async () => (await status()).duplicates === 2,
          );
          await waitFor('the DLQ keeps the three old ones', async () => (await queueDepth(env.dlq)) === 3);
          assert.equal((await status()).processed, 0);
          assert.deepEqual(rows(await store.report({})), ['cliente_uno/new=2', 'cliente_uno/old=3']);

          // --force replays them: their ids are forgotten, so they count again (what the skip prevents).
          const forced = warren(['dlq', 'replay', '--all', '--force'], vars);
          procs.push(forced);
          assert.equal(await forced.exited, 0, forced.output());
          assert.match(forced.stdout(), /^3 replayed, 0 still invalid, 0 unroutable$/m);
          await waitFor('the forced ones counted', async () => (await status()).processed === 3);
          await waitFor('the DLQ is empty', async () => (await queueDepth(env.dlq)) === 0);
          assert.deepEqual(rows(await store.report({})), ['cliente_uno/new=2', 'cliente_uno/old=6']);
        } finally {
          for (const p of procs) await p.kill();
          await env.cleanup();
        }
      }));
  });
}

test('warren dlq replay refuses (exit 2) when DATABASE_URL names no store, unless --force', async () => {
  const env = testEnv('dlqh');
  try {
    const topo = warren(['topology'], env.env);
    assert.equal(await topo.exited, 0, topo.output());
    await toDlq(env.dlq, [ev('r-1', 'cliente_uno', 'click', new Date().toISOString())]);
    const p = warren(['dlq', 'replay', '--all'], env.env);
    assert.equal(await p.exited, 2, p.output());
    assert.match(p.output(), /no store at DATABASE_URL=sqlite:.*--force/);
    const forced = warren(['dlq', 'replay', '--all', '--force'], env.env);
    assert.equal(await forced.exited, 0, forced.output());
    assert.match(forced.stdout(), /^1 replayed/m);
  } finally {
    await env.cleanup();
  }
});
