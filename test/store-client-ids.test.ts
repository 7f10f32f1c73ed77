// Ids are scoped per client (CONTRACT.md, "Event"; DESIGN.md, "Scope ids per tenant"): the same id
// from two clients is two events, the same id twice from one client is one. A database from before
// (seen_ids without cliente) keeps deduplicating the ids it remembers after migration 004.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PostgresStore } from '../src/store/index.js';
import { maintenanceOf, readMigrations, retentionPass, SqliteStore, type Store } from '../src/store/index.js';
import { ev, type FreshDb, kinds, rows, withStore } from './support/store.js';

const DAY = 86_400;
const NOW = Math.floor(Date.parse('2025-06-15T12:00:00Z') / 1000);
const SETTINGS = { dedupeWindowDays: 7, minuteRetentionHours: 48, hourRetentionDays: 90 };

async function exec(store: Store, sql: string): Promise<void> {
  if (store instanceof SqliteStore) store.db.exec(sql);
  else await (store as PostgresStore).pool.query(sql);
}

/** A store on `db` at the schema before ids were scoped per client (migrations 001-003 only). */
async function oldSchema(db: FreshDb): Promise<Store> {
  const store = db.open();
  await exec(store, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)');
  for (const m of await readMigrations(store.kind)) {
    if (m.version > 3) continue;
    await exec(store, m.sql);
    await exec(store, `INSERT INTO schema_migrations (version) VALUES (${m.version})`);
  }
  return store;
}

for (const kind of kinds) {
  describe(`ids per client: ${kind.name}`, () => {
    test('the same id from cliente_a and cliente_b counts 2; twice from one client counts 1', () =>
      withStore(kind, async (store) => {
        const a = ev('shared-1', 'cliente_a', 'click', '2025-04-13T12:00:00Z');
        const b = ev('shared-1', 'cliente_b', 'click', '2025-04-13T12:00:00Z');
        // b's id was "taken" first by a: b is still counted (one client cannot suppress another).
        assert.deepEqual(await store.commit([a]), { counted: 1, duplicates: 0, withoutId: 0 });
        assert.deepEqual(await store.commit([b]), { counted: 1, duplicates: 0, withoutId: 0 });
        // Again from each, across batches and inside one batch: nothing more.
        assert.deepEqual(await store.commit([a, b]), { counted: 0, duplicates: 2, withoutId: 0 });
        const c1 = ev('k:0', 'cliente_a', 'view', '2025-04-13T12:01:00Z');
        const c2 = ev('k:0', 'cliente_b', 'view', '2025-04-13T12:01:00Z');
        assert.deepEqual(await store.commit([c1, c2, c1, c2]), { counted: 2, duplicates: 2, withoutId: 0 });
        assert.deepEqual(rows(await store.report({})), [
          'cliente_a/click=1',
          'cliente_a/view=1',
          'cliente_b/click=1',
          'cliente_b/view=1',
        ]);
      }));

    test('a database migrated from global ids keeps deduplicating the ids it remembered', async () => {
      const db = await kind.fresh();
      const opened: Store[] = [];
      try {
        const old = await oldSchema(db);
        opened.push(old);
        // What the old code wrote for two counted events: the id (no client) and the counters.
        await exec(
          old,
          `INSERT INTO seen_ids (id, t) VALUES ('old-1', ${NOW - DAY}), ('old-2', ${NOW - 30 * DAY});` +
            ` INSERT INTO totals (cliente, evento, count) VALUES ('cliente_a', 'click', 2);` +
            ` INSERT INTO client_totals (cliente, count) VALUES ('cliente_a', 2);`,
        );
        await old.close();
        const store = db.open();
        opened.push(store);
        await store.migrate();
        const at = new Date(NOW * 1000).toISOString();
        // The old ids stay known whoever sends them (their client was not recorded).
        const again = [ev('old-1', 'cliente_a', 'click', at), ev('old-1', 'cliente_b', 'click', at)];
        assert.deepEqual(await store.commit(again), { counted: 0, duplicates: 2, withoutId: 0 });
        // New ids are per client.
        const fresh = [ev('new-1', 'cliente_a', 'click', at), ev('new-1', 'cliente_b', 'click', at)];
        assert.deepEqual(await store.commit(fresh), { counted: 2, duplicates: 0, withoutId: 0 });
        assert.deepEqual(await store.commit(fresh), { counted: 0, duplicates: 2, withoutId: 0 });
        const seen = await db.sql(store, "SELECT COUNT(*) AS n FROM seen_ids WHERE cliente = ''");
        assert.equal(Number(seen[0]!.n), 2, 'old rows are kept under cliente ""');
        // The migration starts the horizon a day before the newest id remembered: every earlier
        // pass forgot only ids older than that (the window is at least a day).
        assert.deepEqual(await maintenanceOf(store).horizon(), { horizon: NOW - 2 * DAY, empty: false });
        // The dedupe window forgets old rows like any other (by t): old-2 goes, old-1 stays.
        const pass = await retentionPass(store, SETTINGS, { now: NOW });
        assert.equal(pass.idsPruned, 1);
        assert.deepEqual(await store.commit([ev('old-1', 'cliente_c', 'click', at)]), {
          counted: 0,
          duplicates: 1,
          withoutId: 0,
        });
        assert.deepEqual(rows(await store.report({})), ['cliente_a/click=3', 'cliente_b/click=1']);
      } finally {
        for (const s of opened) await s.close().catch(() => undefined);
        await db.drop();
      }
    });

    test('a migrated database with counts but no id left starts its horizon at the migration', async () => {
      const db = await kind.fresh();
      const opened: Store[] = [];
      try {
        const old = await oldSchema(db);
        opened.push(old);
        await exec(old, "INSERT INTO totals (cliente, evento, count) VALUES ('cliente_a', 'click', 5)");
        const before = Math.floor(Date.now() / 1000);
        const store = db.open();
        opened.push(store);
        await store.migrate();
        const h = await maintenanceOf(store).horizon();
        assert.equal(h.empty, false);
        assert.ok(
          h.horizon !== undefined && h.horizon >= before - 1 && h.horizon <= Date.now() / 1000 + 1,
          `horizon ${h.horizon} at the migration (${before})`,
        );
      } finally {
        for (const s of opened) await s.close().catch(() => undefined);
        await db.drop();
      }
    });
  });
}
