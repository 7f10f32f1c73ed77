// Export on both stores, after a rollup spread the data over the three levels: the export of a
// range sums to the report of that range (per cliente and evento, every bucket size), rows come
// ordered and on bucket starts, and the rows stream (a PostgreSQL cursor, a second read-only
// SQLite connection that never holds up counting) and are released when a reader stops early.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BUCKET_SECONDS,
  type Bucket,
  type ExportRow,
  type Filter,
  type PostgresStore,
  retentionPass,
  type Store,
} from '../src/store/index.js';
import {
  AT_NOW,
  commitAll,
  dataset,
  isoS,
  kinds,
  NOW,
  RANGES,
  SETTINGS,
} from './support/retention-helpers.js';
import { ev, rows, withDb } from './support/store.js';

async function exported(store: Store, f: Filter, bucket: Bucket): Promise<ExportRow[]> {
  const out: ExportRow[] = [];
  for await (const r of store.exportRows(f, bucket)) out.push(r);
  return out;
}

function sums(list: ExportRow[]): string[] {
  const m = new Map<string, number>();
  for (const r of list)
    m.set(`${r.cliente}/${r.evento}`, (m.get(`${r.cliente}/${r.evento}`) ?? 0) + Number(r.count));
  return [...m].map(([k, n]) => `${k}=${n}`).sort();
}

for (const kind of kinds) {
  describe(`export: ${kind}`, () => {
    test('the export of a range sums to the report of that range, at every bucket size', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        await commitAll(store, dataset(3000, 21));
        await retentionPass(store, SETTINGS, { now: NOW });
        for (const [name, f] of Object.entries(RANGES)) {
          const report = rows(await store.report(f));
          for (const bucket of ['minute', 'hour', 'day'] as const) {
            const list = await exported(store, f, bucket);
            assert.deepEqual(sums(list), report, `${name}, ${bucket}`);
            const size = BUCKET_SECONDS[bucket];
            for (let i = 0; i < list.length; i++) {
              const t = Number(list[i]!.t);
              assert.equal(t % size, 0, `${name}: rows start on ${bucket} buckets`);
              if (i > 0) assert.ok(t >= Number(list[i - 1]!.t), `${name}: ordered by bucket`);
            }
          }
        }
      }));

    test('an export stops early without holding anything, and never holds up counting', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        await commitAll(store, dataset(12_000, 22), 1000);
        const it = store.exportRows({}, 'minute')[Symbol.asyncIterator]();
        const first = await it.next();
        assert.equal(first.done, false);
        if (kind === 'postgres') {
          // Rows come from a server-side cursor, a page at a time, not one big result.
          const [a] = await db.sql(
            store,
            "SELECT query, state FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'FETCH%'",
          );
          assert.match(String(a?.query), /^FETCH 5000 FROM export_cur/);
          assert.equal(a?.state, 'idle in transaction');
        }
        // Counting goes on while the export is open.
        const r = await store.commit([ev('during-export', 'cliente_0', 'click', isoS(NOW))]);
        assert.equal(r.counted, 1);
        await it.return?.();
        if (kind === 'postgres') {
          const pool = (store as PostgresStore).pool;
          assert.equal(pool.totalCount - pool.idleCount, 0, 'the export connection went back to the pool');
          const open = await db.sql(
            store,
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()",
          );
          assert.equal(Number(open[0]!.n), 0, 'its transaction ended');
        }
        assert.equal(
          sums(await exported(store, {}, 'day')).reduce((s, x) => s + Number(x.split('=')[1]), 0),
          12_001,
        );
      }));
  });
}
