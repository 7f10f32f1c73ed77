// Replay after the dedupe window (README, "Dead letters, audit and replay"): pruning records the
// horizon before which it forgot ids, in the same transaction that forgets them; `warren replay`
// skips and reports events older than it (they would be counted again) unless the store is empty
// or --force is given, and holds pruning so what it checked stays true while analytics counts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Store } from '../src/store/index.js';
import { maintenanceOf, PostgresStore, retentionPass, SqliteStore } from '../src/store/index.js';
import { freePort, getJson, testEnv, waitFor, warren } from './support/helpers.js';
import { type Db, ev, kinds, rows, withStore } from './support/store.js';

const DAY = 86_400;
const SETTINGS = { dedupeWindowDays: 7, minuteRetentionHours: 48, hourRetentionDays: 90 };
const isoAt = (s: number) => new Date(s * 1000).toISOString();

/** A migrated store on db whose clock (arrival times) reads `s` epoch seconds. */
async function storeAt(db: Db, s: number): Promise<Store> {
  const clock = { now: () => s * 1000 };
  const st = db.url.startsWith('sqlite:')
    ? new SqliteStore(db.url.slice('sqlite:'.length), clock)
    : new PostgresStore(db.url, clock);
  await st.migrate();
  return st;
}

async function commitAt(db: Db, s: number, events: ReturnType<typeof ev>[]): Promise<void> {
  const st = await storeAt(db, s);
  try {
    await st.commit(events);
  } finally {
    await st.close();
  }
}

for (const kind of kinds) {
  describe(`dedupe horizon: ${kind.name}`, () => {
    test('pruning raises the horizon to its cutoff as it forgets ids; a hold stops it', () =>
      withStore(kind, async (store, db) => {
        const m = maintenanceOf(store);
        assert.deepEqual(await m.horizon(), { horizon: undefined, empty: true });
        const NOW = 1_750_000_000;
        await commitAt(db, NOW - 10 * DAY, [ev('gone', 'cliente_uno', 'click', isoAt(NOW - 10 * DAY))]);
        await commitAt(db, NOW, [ev('kept', 'cliente_uno', 'click', isoAt(NOW))]);
        // A pass that forgets nothing leaves the horizon alone.
        assert.equal((await retentionPass(store, SETTINGS, { now: NOW - 2 * DAY })).idsPruned, 0);
        assert.deepEqual(await m.horizon(), { horizon: undefined, empty: false });
        // A replay holds pruning: nothing is forgotten until the hold ends.
        assert.deepEqual(await m.holdPruning(NOW + DAY), { horizon: undefined, empty: false });
        assert.equal((await retentionPass(store, SETTINGS, { now: NOW + DAY - 1 })).idsPruned, 0);
        const pass = await retentionPass(store, SETTINGS, { now: NOW + DAY });
        assert.equal(pass.idsPruned, 1);
        assert.equal(pass.cutoffs!.ids, NOW - 7 * DAY);
        assert.deepEqual(await m.horizon(), { horizon: NOW - 7 * DAY, empty: false });
        // Neither the horizon nor a hold moves back.
        await m.holdPruning(0);
        assert.equal((await m.horizon()).horizon, NOW - 7 * DAY);
        await commitAt(db, NOW + 5 * DAY, [ev('late', 'cliente_uno', 'click', isoAt(NOW + 5 * DAY))]);
        assert.equal((await retentionPass(store, SETTINGS, { now: NOW + DAY + 1 })).idsPruned, 0);
        assert.deepEqual(rows(await store.report({})), ['cliente_uno/click=3']);
      }));

    test('warren replay skips events older than the horizon, reports them, and --force sends them', () =>
      withStore(kind, async (store, db) => {
        const env = testEnv('rh');
        const procs: ReturnType<typeof warren>[] = [];
        try {
          const now = Math.floor(Date.now() / 1000);
          // Five events counted 30 days ago (their ids are forgotten below), five counted now.
          const old = [1, 2, 3, 4, 5].map((i) =>
            ev(`old-${i}`, 'cliente_uno', 'old', isoAt(now - 30 * DAY + i)),
          );
          const recent = [1, 2, 3, 4, 5].map((i) =>
            ev(`new-${i}`, 'cliente_uno', 'new', isoAt(now - 3600 + i)),
          );
          await commitAt(db, now - 30 * DAY, old);
          await store.commit(recent);
          // `warren prune` forgets the old ids and shows the horizon it recorded.
          const prune = warren(['prune', '--json'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
          assert.equal(await prune.exited, 0, prune.output());
          const pass = JSON.parse(prune.stdout()) as {
            idsPruned: number;
            cutoffs: { ids: number };
            horizon: number;
          };
          assert.equal(pass.idsPruned, 5);
          assert.equal(pass.horizon, pass.cutoffs.ids);
          assert.equal((await maintenanceOf(store).horizon()).horizon, pass.cutoffs.ids);
          // The audit file of those ten events.
          const file = join(env.dir, 'audit.ndjson');
          const line = (e: ReturnType<typeof ev>) =>
            JSON.stringify({
              at: e.timestamp,
              message_id: e.id,
              body: { id: e.id, cliente: e.cliente, evento: e.evento, timestamp: e.timestamp },
            });
          writeFileSync(file, `${[...old, ...recent].map(line).join('\n')}\n`);

          const vars = { ...env.env, DATABASE_URL: db.url, RETENTION_INTERVAL_S: '0' };
          const port = await freePort();
          const analytics = warren(['analytics'], { ...vars, ANALYTICS_PORT: String(port) });
          procs.push(analytics);
          const base = `http://127.0.0.1:${port}`;
          await waitFor(
            'analytics ready',
            async () => (await fetch(`${base}/readyz`)).status === 200,
            90_000,
          );
          const status = async () =>
            (await getJson<{ processed: number; duplicates: number }>(`${base}/api/v1/status`)).body;

          const replay = warren(['replay', file], vars);
          procs.push(replay);
          assert.equal(await replay.exited, 0, replay.output());
          assert.equal(replay.stdout(), '5 confirmed\n');
          assert.match(replay.output(), /skipped 5 events older than the dedupe horizon/);
          await waitFor(
            'the replay seen as duplicates',
            async () => (await status()).duplicates === 5,
            60_000,
          );
          assert.deepEqual(rows(await store.report({})), ['cliente_uno/new=5', 'cliente_uno/old=5']);
          // The replay held pruning for a day after it ended: nothing is forgotten meanwhile.
          const later = await retentionPass(store, SETTINGS, {
            now: Math.floor(Date.now() / 1000) + DAY - 60,
          });
          assert.equal(later.idsPruned, 0);

          // --force sends them all: the forgotten ones are counted again (what the skip prevents).
          const forced = warren(['replay', '--force', file], vars);
          procs.push(forced);
          assert.equal(await forced.exited, 0, forced.output());
          assert.equal(forced.stdout(), '10 confirmed\n');
          await waitFor('the forced replay counted', async () => (await status()).processed === 5, 60_000);
          await waitFor('the forced replay seen', async () => (await status()).duplicates === 10, 60_000);
          assert.deepEqual(rows(await store.report({})), ['cliente_uno/new=5', 'cliente_uno/old=10']);
        } finally {
          for (const p of procs) await p.kill();
          await env.cleanup();
        }
      }));
  });
}

test('warren replay refuses (exit 2) when DATABASE_URL names no store, unless --force', async () => {
  const env = testEnv('rh');
  try {
    const file = join(env.dir, 'audit.ndjson');
    writeFileSync(file, '');
    const missing = join(env.dir, 'nowhere.db');
    const p = warren(['replay', file], { ...env.env, DATABASE_URL: `sqlite:${missing}` });
    assert.equal(await p.exited, 2, p.output());
    assert.match(p.output(), /no store at DATABASE_URL=sqlite:.*nowhere\.db.*--force/);
    const forced = warren(['replay', '--force', file], { ...env.env, DATABASE_URL: `sqlite:${missing}` });
    assert.equal(await forced.exited, 0, forced.output());
    assert.equal(forced.stdout(), '0 confirmed\n');
  } finally {
    await env.cleanup();
  }
});
