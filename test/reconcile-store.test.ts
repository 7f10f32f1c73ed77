// Reconcile's ledger in the store, on both stores: the consumer's commit records counted,
// unreported and duplicates in its own transaction, exactly once per publish (a redelivery of a
// committed batch, which is what a kill between commit and ack produces, changes nothing), and a
// report applied twice counts once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParsedEvent } from '../src/event.js';
import {
  type LedgerRow,
  type PostgresStore,
  readMigrations,
  reconcileOf,
  SqliteStore,
  type Store,
} from '../src/store/index.js';
import { ev, kinds, withDb, withStore } from './support/store.js';

const T = '2025-04-13T12:00:10Z';
const MINUTE = Date.parse('2025-04-13T12:00:00Z') / 1000;

function tagged(id: string | undefined, cliente: string, pub?: string): ParsedEvent {
  const e = ev(id, cliente, 'click', T);
  if (pub !== undefined) e.pub = pub;
  return e;
}

function plain(rows: LedgerRow[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const r of rows)
    out[`${r.cliente}@${Number(r.t)}`] = [r.attempted, r.accepted, r.counted, r.unreported, r.duplicates].map(
      Number,
    );
  return out;
}

async function exec(store: Store, sql: string): Promise<void> {
  if (store instanceof SqliteStore) store.db.exec(sql);
  else await (store as PostgresStore).pool.query(sql);
}

/** Brings a new database to the given migrations only, as an older Warren left it. */
async function migratedTo(store: Store, versions: number[]): Promise<void> {
  await exec(store, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)');
  for (const m of await readMigrations(store.kind)) {
    if (!versions.includes(m.version)) continue;
    await exec(store, m.sql);
    await exec(store, `INSERT INTO schema_migrations (version) VALUES (${m.version})`);
  }
}

for (const kind of kinds) {
  describe(`reconcile ledger (${kind.name})`, () => {
    // 005 (reconcile) and 006 (uniques) were written on two branches: a database at 004 gets both
    // in order, and one that got 006 first (uniques before reconcile) gets 005 after it.
    for (const [name, before] of [
      ['at 004', [1, 2, 3, 4]],
      ['at 004 and 006', [1, 2, 3, 4, 6]],
    ] as const) {
      it(`upgrades a database ${name}: every migration applied once, and the ledger records`, () =>
        withDb(kind, {}, async (db) => {
          const old = db.connect();
          await migratedTo(old, [...before]);
          const store = await db.open();
          const all = (await readMigrations(store.kind)).map((m) => m.version);
          assert.ok(all.includes(5) && all.includes(6), `migrations 005 and 006 exist: ${all}`);
          const done = await db.sql(store, 'SELECT version FROM schema_migrations ORDER BY version');
          assert.deepEqual(
            done.map((r) => Number(r.version)),
            all,
          );
          const e = tagged('u1', 'c1', 'r.1');
          e.usuario = 'user-1';
          await store.commit([e, tagged('u1', 'c1', 'r.2')]);
          assert.deepEqual(plain(await reconcileOf(store)!.rows({})), { [`c1@${MINUTE}`]: [0, 0, 1, 0, 1] });
          assert.equal((await store.uniques({})).usuarios, 1);
        }));
    }

    it('counts a redelivered batch once, a client retry as one duplicate, once, and unreported events apart', async () => {
      await withStore(kind, async (store) => {
        const ledger = reconcileOf(store)!;
        const batch = [tagged('a', 'c1', 'r.1'), tagged('b', 'c1', 'r.2'), tagged('x', 'c2')];
        await store.commit(batch);
        // The broker redelivers the committed batch (analytics killed between commit and ack),
        // and the publisher sent `a` again itself after a lost confirm (same tag): no duplicates.
        await store.commit([...batch, tagged('a', 'c1', 'r.1')]);
        // A client retried `a` (a new publish, new tag), and that delivery came twice.
        const r = await store.commit([tagged('a', 'c1', 'r.9')]);
        assert.equal(r.duplicates, 1);
        await store.commit([tagged('a', 'c1', 'r.9')]);
        // Inside one batch: the first copy is counted, a second publish of it is a duplicate.
        await store.commit([tagged('d', 'c1', 'r.3'), tagged('d', 'c1', 'r.4')]);
        assert.deepEqual(plain(await ledger.rows({})), {
          [`c1@${MINUTE}`]: [0, 0, 3, 0, 2],
          [`c2@${MINUTE}`]: [0, 0, 0, 1, 0],
        });
      });
    });

    it('applies a report once however often it is delivered, and filters by client and range', async () => {
      await withStore(kind, async (store) => {
        const ledger = reconcileOf(store)!;
        const report = {
          id: 'rep.1',
          rows: [
            { cliente: 'c1', t: MINUTE, attempted: 3, accepted: 2 },
            { cliente: 'c2', t: MINUTE + 60, attempted: 1, accepted: 1 },
          ],
        };
        assert.equal(await ledger.applyReports([report, report], 1000), 1);
        assert.equal(await ledger.applyReports([report], 1001), 0);
        assert.equal(
          await ledger.applyReports(
            [{ id: 'rep.2', rows: [{ cliente: 'c1', t: MINUTE, attempted: 1, accepted: 1 }] }],
            1002,
          ),
          1,
        );
        assert.deepEqual(plain(await ledger.rows({})), {
          [`c1@${MINUTE}`]: [4, 3, 0, 0, 0],
          [`c2@${MINUTE + 60}`]: [1, 1, 0, 0, 0],
        });
        assert.deepEqual(Object.keys(plain(await ledger.rows({ cliente: 'c2' }))), [`c2@${MINUTE + 60}`]);
        assert.deepEqual(Object.keys(plain(await ledger.rows({ from: MINUTE, to: MINUTE + 60 }))), [
          `c1@${MINUTE}`,
        ]);
        // Retention forgets rows and report ids before its cutoff, nothing after it.
        assert.ok((await ledger.prune(MINUTE + 60)) >= 1);
        assert.deepEqual(Object.keys(plain(await ledger.rows({}))), [`c2@${MINUTE + 60}`]);
      });
    });
  });
}
