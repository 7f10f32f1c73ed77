// Store conformance: the same cases against SqliteStore and PostgresStore, each on a fresh
// database. What the consumer and the API rely on: ids count once, reports and buckets by event
// time (UTC), export order, and filters that are values, never SQL.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExportRow, Store } from '../src/store/index.js';
import { ev, iso, kinds, rows, withStore } from './support/store.js';

async function collect(it: AsyncIterable<ExportRow>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(`${iso(r.t)} ${r.cliente}/${r.evento}=${Number(r.count)}`);
  return out;
}

async function series(store: Store, bucket: 'minute' | 'hour' | 'day', filter = {}): Promise<string[]> {
  return (await store.timeseries(filter, bucket)).map((p) => `${iso(p.t)}=${Number(p.count)}`);
}

const at = (s: string) => Math.floor(Date.parse(s) / 1000);

// Five events over two clients, two hours and a day boundary.
const REPORT_SET = [
  ev('r1', 'cliente_uno', 'click', '2025-04-13T11:59:59Z'),
  ev('r2', 'cliente_uno', 'click', '2025-04-13T12:00:00Z'),
  ev('r3', 'cliente_uno', 'view', '2025-04-13T12:30:00Z'),
  ev('r4', 'cliente_dos', 'click', '2025-04-13T13:00:00Z'),
  ev('r5', 'cliente_dos', 'purchase', '2025-04-14T00:00:00Z'),
];

// Event times on both sides of midnight UTC, some written with non-UTC offsets.
const TIME_SET = [
  ev('t1', 'cliente_uno', 'click', '2025-04-13T10:15:00Z'),
  ev('t2', 'cliente_uno', 'click', '2025-04-13T23:59:30Z'),
  ev('t3', 'cliente_uno', 'view', '2025-04-14T05:29:59+05:30'), // 2025-04-13T23:59:59Z
  ev('t4', 'cliente_dos', 'click', '2025-04-14T05:30:00+05:30'), // 2025-04-14T00:00:00Z
  ev('t5', 'cliente_dos', 'click', '2025-04-13T19:00:10-05:00'), // 2025-04-14T00:00:10Z
  ev('t6', 'cliente_uno', 'click', '2025-04-14T00:01:00.500Z'),
];

for (const kind of kinds) {
  describe(`store conformance: ${kind.name}`, () => {
    test('new ids count; a known id changes nothing, in one batch and across batches', () =>
      withStore(kind, async (store) => {
        const a = ev('a', 'cliente_uno', 'click', '2025-04-13T12:00:00Z');
        const b = ev('b', 'cliente_uno', 'click', '2025-04-13T12:00:30Z');
        const c = ev('c', 'cliente_dos', 'view', '2025-04-13T12:01:00Z');
        const d = ev('d', 'cliente_dos', 'view', '2025-04-13T12:01:00Z');
        assert.deepEqual(await store.commit([a, b, c]), { counted: 3, duplicates: 0, withoutId: 0 });
        assert.deepEqual(await store.commit([a, d, d]), { counted: 1, duplicates: 2, withoutId: 0 });
        assert.deepEqual(await store.commit([d, c, b, a]), { counted: 0, duplicates: 4, withoutId: 0 });
        // A copy from the same client with other fields is still the same event: its id decides.
        const aLater = ev('a', 'cliente_uno', 'purchase', '2025-04-14T00:00:00Z');
        assert.deepEqual(await store.commit([aLater]), { counted: 0, duplicates: 1, withoutId: 0 });
        assert.deepEqual(rows(await store.report({})), ['cliente_dos/view=2', 'cliente_uno/click=2']);
        assert.deepEqual(await series(store, 'minute'), ['2025-04-13T12:00:00Z=2', '2025-04-13T12:01:00Z=2']);
      }));

    test('events without id are counted every time', () =>
      withStore(kind, async (store) => {
        const e = ev(undefined, 'cliente_uno', 'click', '2025-04-13T12:00:00Z');
        assert.deepEqual(await store.commit([e, e]), { counted: 2, duplicates: 0, withoutId: 2 });
        assert.deepEqual(await store.commit([e]), { counted: 1, duplicates: 0, withoutId: 1 });
        assert.deepEqual(rows(await store.report({})), ['cliente_uno/click=3']);
      }));

    test('an empty batch commits nothing', () =>
      withStore(kind, async (store) => {
        assert.deepEqual(await store.commit([]), { counted: 0, duplicates: 0, withoutId: 0 });
        assert.deepEqual(rows(await store.report({})), []);
      }));

    test('report: all time, from (inclusive), to (exclusive), cliente, evento', () =>
      withStore(kind, async (store) => {
        await store.commit(REPORT_SET);
        const all = [
          'cliente_dos/click=1',
          'cliente_dos/purchase=1',
          'cliente_uno/click=2',
          'cliente_uno/view=1',
        ];
        assert.deepEqual(rows(await store.report({})), all);
        // A range covering everything must agree with the all-time totals.
        assert.deepEqual(rows(await store.report({ from: 0, to: at('2100-01-01T00:00:00Z') })), all);
        const noon = { from: at('2025-04-13T12:00:00Z'), to: at('2025-04-13T13:00:00Z') };
        assert.deepEqual(rows(await store.report(noon)), ['cliente_uno/click=1', 'cliente_uno/view=1']);
        assert.deepEqual(rows(await store.report({ to: at('2025-04-13T12:00:00Z') })), [
          'cliente_uno/click=1',
        ]);
        assert.deepEqual(rows(await store.report({ from: at('2025-04-14T00:00:00Z') })), [
          'cliente_dos/purchase=1',
        ]);
        assert.deepEqual(rows(await store.report({ cliente: 'cliente_dos' })), [
          'cliente_dos/click=1',
          'cliente_dos/purchase=1',
        ]);
        assert.deepEqual(rows(await store.report({ evento: 'click' })), [
          'cliente_dos/click=1',
          'cliente_uno/click=2',
        ]);
        assert.deepEqual(
          rows(
            await store.report({ cliente: 'cliente_uno', evento: 'click', from: at('2025-04-13T12:00:00Z') }),
          ),
          ['cliente_uno/click=1'],
        );
        assert.deepEqual(rows(await store.report({ cliente: 'nadie' })), []);
      }));

    test('report of a range holding most events (totals minus outside): from inclusive, to exclusive', () =>
      withStore(kind, async (store) => {
        const inside = Array.from({ length: 12 }, (_, i) =>
          ev(
            `in${i}`,
            i % 3 ? 'cliente_uno' : 'cliente_dos',
            i % 2 ? 'view' : 'click',
            '2025-04-13T12:00:00Z',
          ),
        );
        await store.commit([
          ...inside,
          ev('at-to', 'cliente_uno', 'click', '2025-04-13T13:00:00Z'),
          ev('before', 'cliente_uno', 'click', '2025-04-13T11:59:59Z'),
          ev('after', 'cliente_dos', 'view', '2025-04-14T00:00:00Z'),
        ]);
        const range = { from: at('2025-04-13T12:00:00Z'), to: at('2025-04-13T13:00:00Z') };
        const want = [
          'cliente_dos/click=2',
          'cliente_dos/view=2',
          'cliente_uno/click=4',
          'cliente_uno/view=4',
        ];
        assert.deepEqual(rows(await store.report(range)), want);
        assert.deepEqual(rows(await store.report({ ...range, cliente: 'cliente_uno' })), want.slice(2));
        assert.deepEqual(rows(await store.report({ ...range, evento: 'view' })), [want[1], want[3]]);
        assert.deepEqual(rows(await store.report({ to: range.to })), [
          ...want.slice(0, 2),
          'cliente_uno/click=5',
          want[3],
        ]);
        assert.deepEqual(rows(await store.report({ from: range.from, cliente: 'cliente_dos' })), [
          'cliente_dos/click=2',
          'cliente_dos/view=3',
        ]);
      }));

    test('timeseries: minute, hour and day buckets in UTC, across offsets and midnight', () =>
      withStore(kind, async (store) => {
        await store.commit(TIME_SET);
        assert.deepEqual(await series(store, 'minute'), [
          '2025-04-13T10:15:00Z=1',
          '2025-04-13T23:59:00Z=2',
          '2025-04-14T00:00:00Z=2',
          '2025-04-14T00:01:00Z=1',
        ]);
        assert.deepEqual(await series(store, 'hour'), [
          '2025-04-13T10:00:00Z=1',
          '2025-04-13T23:00:00Z=2',
          '2025-04-14T00:00:00Z=3',
        ]);
        assert.deepEqual(await series(store, 'day'), ['2025-04-13T00:00:00Z=3', '2025-04-14T00:00:00Z=3']);
        const sinceMidnight = { from: at('2025-04-14T00:00:00Z') };
        assert.deepEqual(await series(store, 'minute', sinceMidnight), [
          '2025-04-14T00:00:00Z=2',
          '2025-04-14T00:01:00Z=1',
        ]);
        assert.deepEqual(await series(store, 'day', { cliente: 'cliente_dos' }), ['2025-04-14T00:00:00Z=2']);
        assert.deepEqual(await series(store, 'hour', { evento: 'view' }), ['2025-04-13T23:00:00Z=1']);
      }));

    test('exportRows: one row per (bucket, cliente, evento), ordered, filtered', () =>
      withStore(kind, async (store) => {
        await store.commit(TIME_SET);
        assert.deepEqual(await collect(store.exportRows({}, 'hour')), [
          '2025-04-13T10:00:00Z cliente_uno/click=1',
          '2025-04-13T23:00:00Z cliente_uno/click=1',
          '2025-04-13T23:00:00Z cliente_uno/view=1',
          '2025-04-14T00:00:00Z cliente_dos/click=2',
          '2025-04-14T00:00:00Z cliente_uno/click=1',
        ]);
        assert.deepEqual(
          await collect(store.exportRows({ cliente: 'cliente_uno', evento: 'click' }, 'day')),
          ['2025-04-13T00:00:00Z cliente_uno/click=2', '2025-04-14T00:00:00Z cliente_uno/click=1'],
        );
        assert.deepEqual(await collect(store.exportRows({ to: at('2025-04-13T23:59:00Z') }, 'minute')), [
          '2025-04-13T10:15:00Z cliente_uno/click=1',
        ]);
      }));

    test('SQL in cliente/evento filters is a value: it matches nothing and changes nothing', () =>
      withStore(kind, async (store, db) => {
        await store.commit(REPORT_SET);
        const before = rows(await store.report({}));
        const attempts = [
          "x' OR '1'='1",
          "cliente_uno' --",
          "'; DROP TABLE totals; --",
          "'; DELETE FROM seen_ids; --",
          '" OR 1=1 --',
          'cliente_% ',
          '%',
          '@cliente',
          '$1',
        ];
        for (const bad of attempts) {
          for (const filter of [{ cliente: bad }, { evento: bad }, { cliente: bad, from: 0, to: 2 ** 40 }]) {
            assert.deepEqual(rows(await store.report(filter)), [], `report ${JSON.stringify(filter)}`);
            assert.deepEqual(await series(store, 'hour', filter), [], `timeseries ${JSON.stringify(filter)}`);
            assert.deepEqual(
              await collect(store.exportRows(filter, 'day')),
              [],
              `export ${JSON.stringify(filter)}`,
            );
          }
        }
        assert.deepEqual(rows(await store.report({})), before);
        const seen = await db.sql(store, 'SELECT COUNT(*) AS n FROM seen_ids');
        assert.equal(Number(seen[0]?.n), REPORT_SET.length);
        // And the ids still deduplicate, so nothing was dropped or rewritten.
        assert.deepEqual(await store.commit(REPORT_SET), { counted: 0, duplicates: 5, withoutId: 0 });
      }));
  });
}
