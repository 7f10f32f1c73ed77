// The report cache (src/analytics/cache.ts) never serves an answer the store has moved past: the
// SQLite store's version moves on every change (a commit on this connection or another one, a
// rollup) and only then; a kept answer is served again only at the same version, or after this
// store's own commits were added to it; a bad query is a 400 and never cached. PostgreSQL, where
// other processes' commits are added too: report-cache-postgres.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ResponseCache, type View } from '../src/analytics/cache.js';
import { retentionPass } from '../src/store/index.js';
import { NOW, SETTINGS } from './support/retention-helpers.js';
import { apiOn, ev, kinds, withStore } from './support/store.js';

const sqlite = kinds.find((k) => k.name === 'sqlite')!;

async function get(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'GET', url, headers });
  return {
    status: res.statusCode,
    cache: res.headers['x-cache'],
    body: res.json() as Record<string, unknown>,
  };
}

const iso = (s: number) => new Date(s * 1000).toISOString();

describe('report cache', () => {
  test('SQLite version moves on own and foreign commits and on rollups, not on duplicates', () =>
    withStore(sqlite, async (store, db) => {
      const v0 = await store.version();
      assert.equal(typeof v0, 'string');
      assert.equal(await store.version(), v0, 'reading changes nothing');
      await store.commit([ev('a', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
      const v1 = await store.version();
      assert.notEqual(v1, v0, 'own commit');
      await store.commit([ev('a', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
      assert.equal(await store.version(), v1, 'a duplicate changes no counter');
      const other = await db.open();
      await other.commit([ev('b', 'cliente_dos', 'view', '2025-04-13T12:00:00Z')]);
      const v2 = await store.version();
      assert.notEqual(v2, v1, "another connection's commit");
      const pass = await retentionPass(store, SETTINGS, { now: NOW });
      assert.ok(pass.minuteRows > 0, 'the rollup moved minute rows');
      assert.notEqual(await store.version(), v2, 'rollup');
    }));

  test('API: hit at the same version, miss after any change, 400 not cached', () =>
    withStore(sqlite, async (store, db) => {
      const app = apiOn(store);
      await store.commit([ev('a', 'cliente_uno', 'click', '2025-04-13T12:00:00Z')]);
      const first = await get(app, '/reporte');
      assert.deepEqual([first.status, first.cache], [200, 'miss']);
      assert.deepEqual(first.body, { total: 1, clientes: { cliente_uno: 1 } });
      const again = await get(app, '/reporte');
      assert.deepEqual([again.cache, again.body], ['hit', first.body]);

      // This store's own commit is added to the kept answer (cache.ts); the next ask is a hit.
      await store.commit([ev('b', 'cliente_uno', 'view', '2025-04-13T12:01:00Z')]);
      const afterOwn = await get(app, '/reporte');
      assert.deepEqual(
        [afterOwn.cache, afterOwn.body],
        ['update', { total: 2, clientes: { cliente_uno: 2 } }],
      );
      assert.equal((await get(app, '/reporte')).cache, 'hit');

      const other = await db.open();
      await other.commit([ev('c', 'cliente_dos', 'view', '2025-04-13T12:02:00Z')]);
      const afterForeign = await get(app, '/reporte');
      assert.equal(afterForeign.cache, 'miss');
      assert.deepEqual(afterForeign.body, { total: 3, clientes: { cliente_uno: 2, cliente_dos: 1 } });

      const range = `/api/v1/report?from=2025-04-13T12:00:00Z&to=2025-04-13T12:02:00Z`;
      const r1 = await get(app, range);
      const r2 = await get(app, range);
      assert.deepEqual([r1.cache, r2.cache], ['miss', 'hit']);
      assert.equal(r1.body.total, 2);
      assert.deepEqual(r2.body, r1.body);
      // Another range is another entry; the first one is still served.
      const wider = await get(app, '/api/v1/report?from=2025-04-13T12:00:00Z');
      assert.deepEqual([wider.cache, wider.body.total], ['miss', 3]);
      // warren_report_cache_total{result} counts each X-Cache answer so far (README).
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const counted = (result: string) =>
        Number(
          new RegExp(`^warren_report_cache_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(metrics)?.[1],
        );
      assert.deepEqual(
        { miss: counted('miss'), hit: counted('hit'), update: counted('update') },
        { miss: 4, hit: 3, update: 1 },
      );
      assert.equal((await get(app, range)).cache, 'hit');

      const ts = '/api/v1/timeseries?bucket=minute';
      assert.equal((await get(app, ts)).cache, 'miss');
      const tsHit = await get(app, ts);
      assert.equal(tsHit.cache, 'hit');
      assert.equal((tsHit.body.points as unknown[]).length, 3);

      // A browser's no-store fetch (the panel's) sends Cache-Control: no-cache; the entry is current.
      const noStore = await get(app, '/reporte', { 'cache-control': 'no-cache' });
      assert.deepEqual([noStore.cache, noStore.body], ['hit', afterForeign.body]);

      const bad = await get(app, '/api/v1/report?from=yesterday');
      assert.deepEqual([bad.status, bad.body.error], [400, 'invalid_query']);
      assert.equal((await get(app, '/api/v1/report?from=yesterday')).status, 400);

      // A rollup changes which level holds a bucket: answers are recomputed, totals unchanged.
      await store.commit([ev('old', 'cliente_uno', 'click', iso(NOW - 3 * 86_400))]);
      const before = await get(app, '/reporte');
      await retentionPass(store, SETTINGS, { now: NOW });
      const after = await get(app, '/reporte');
      assert.deepEqual([after.cache, after.body], ['miss', before.body]);
      await app.close();
    }));

  test('an answer read at a version takes the commits the store tells when asked again', async () => {
    // A store that learns of other processes' commits when its version is asked (PostgreSQL,
    // src/store/versions.ts) tells them during that call: the answer computed meanwhile takes them
    // and is kept at the version reached, not dropped as if the store had moved past it.
    const cache = new ResponseCache();
    const applied: number[] = [];
    const view: View = {
      apply: (groups) => {
        applied.push(groups.length);
        return true;
      },
      body: () => Buffer.from(String(applied.length)),
      size: () => 1,
    };
    const group = { t: 0, cliente: 'cliente_uno', evento: 'click', n: 1 };
    const tellingAfter = async () => {
      cache.onChange({ before: '1', after: '2', groups: [group] });
      return '2';
    };
    const first = await cache.get('r', '1', async () => ({ view, at: '1' }), tellingAfter);
    assert.deepEqual([first.result, applied], ['miss', [1]]);
    const next = await cache.get('r', '2', async () => assert.fail('kept at 2'), tellingAfter);
    assert.deepEqual([next.result, next.body.toString()], ['hit', '1']);
  });

  test('by default 64 answers and 128 MiB are kept (README), no more', async () => {
    const cache = new ResponseCache();
    const sized = (bytes: number) => async (): Promise<View> => ({
      apply: () => true,
      body: () => Buffer.from('x'),
      size: () => bytes,
    });
    const same = async () => '1';
    for (let i = 0; i < 64; i++) await cache.get(`k${i}`, '1', sized(1), same);
    assert.equal(cache.size, 64);
    assert.equal((await cache.get('k0', '1', sized(1), same)).result, 'hit', 'the 64th is still kept');
    await cache.get('k64', '1', sized(1), same);
    assert.equal(cache.size, 64, 'the 65th evicts one');
    assert.equal((await cache.get('k1', '1', sized(1), same)).result, 'miss', 'the least recent went');
    const big = new ResponseCache();
    await big.get('at', '1', sized(128 * 1024 * 1024), same);
    assert.equal((await big.get('at', '1', sized(1), same)).result, 'hit', '128 MiB is kept');
    await big.get('over', '1', sized(128 * 1024 * 1024 + 1), same);
    assert.equal((await big.get('over', '1', sized(1), same)).result, 'miss', 'over 128 MiB is not');
  });

  test('bounded: least recently used entries go first, by count and by size', async () => {
    const cache = new ResponseCache({ maxEntries: 2, maxBytes: 10 });
    const view = (s: string) => async (): Promise<View> => ({
      apply: () => true,
      body: () => Buffer.from(s),
      size: () => s.length,
    });
    const same = async () => '1';
    await cache.get('a', '1', view('aaa'), same);
    await cache.get('b', '1', view('bbb'), same);
    assert.equal((await cache.get('a', '1', view('x'), same)).result, 'hit', 'a is used again');
    await cache.get('c', '1', view('ccc'), same);
    assert.equal(cache.size, 2);
    assert.equal((await cache.get('b', '1', view('b2'), same)).result, 'miss', 'b was the least recent');
    await cache.get('big', '1', view('0123456789!'), same);
    assert.equal((await cache.get('big', '1', view('y'), same)).result, 'miss', 'over the size: not kept');
    const none = async () => undefined;
    assert.equal((await cache.get('x', undefined, view('x'), none)).result, 'miss');
    assert.equal((await cache.get('x', undefined, view('x'), none)).result, 'miss', 'no version: never kept');
    // The store moved while the answer was computed: served, not kept.
    assert.equal((await cache.get('m', '1', view('m'), async () => '2')).result, 'miss');
    assert.equal((await cache.get('m', '1', view('m'), same)).result, 'miss', 'not kept at 1');
  });
});
