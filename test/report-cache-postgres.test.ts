// The report cache on PostgreSQL, where several analytics processes count into one database
// (src/store/versions.ts): a kept answer is served again only at the store version it holds, and
// takes every process's commits (read from the database's change log), so it is never stale
// after another process's commit is visible; a rollup, or a process too far behind the log,
// makes the next answer computed again. Two store objects (each its own pool) stand for two
// processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { retentionPass, type Store } from '../src/store/index.js';
import { KEPT_CHANGES } from '../src/store/versions.js';
import { NOW, SETTINGS } from './support/retention-helpers.js';
import { apiOn, ev, withStore } from './support/store.js';

async function get(app: FastifyInstance, url: string) {
  const res = await app.inject({ method: 'GET', url });
  assert.equal(res.statusCode, 200, res.body);
  return { cache: res.headers['x-cache'], body: res.json() as Record<string, unknown> };
}

const iso = (s: number) => new Date(s * 1000).toISOString();
const T0 = Date.parse('2025-04-13T12:00:00Z') / 1000;
const RANGE = `/api/v1/report?from=${iso(T0)}&to=${iso(T0 + 600)}`;
const SERIES = `/api/v1/timeseries?bucket=minute&from=${iso(T0)}&to=${iso(T0 + 600)}`;

/** One event `k` of client `cliente`, `minute` minutes after T0. */
const one = (k: string, cliente: string, minute = 0, evento = 'click') =>
  ev(k, cliente, evento, iso(T0 + minute * 60));

/** The answers of an API with nothing kept: what the store holds now. */
async function fresh(store: Store, url: string): Promise<Record<string, unknown>> {
  const app = apiOn(store);
  try {
    const r = await get(app, url);
    assert.equal(r.cache, 'miss');
    return r.body;
  } finally {
    await app.close();
  }
}

describe('report cache on PostgreSQL, several processes', () => {
  test("a kept answer takes another process's commit: current, not computed again", () =>
    withStore('postgres', async (a, db) => {
      const b = await db.open();
      const app = apiOn(a);
      await a.commit([one('a1', 'cliente_uno')]);
      const urls = ['/reporte', RANGE, SERIES];
      for (const url of urls) {
        assert.equal((await get(app, url)).cache, 'miss', url);
        assert.equal((await get(app, url)).cache, 'hit', `${url} is kept`);
      }

      await b.commit([one('b1', 'cliente_dos', 1, 'view'), one('b2', 'cliente_uno', 2)]);
      const reporte = await get(app, '/reporte');
      assert.deepEqual(reporte, {
        cache: 'update',
        body: { total: 3, clientes: { cliente_uno: 2, cliente_dos: 1 } },
      });
      for (const url of [RANGE, SERIES]) {
        const r = await get(app, url);
        assert.equal(r.cache, 'update', url);
        assert.deepEqual(r.body, await fresh(b, url), url);
      }
      assert.equal((await get(app, '/reporte')).cache, 'hit');

      // A duplicate counts nothing and moves no version; this process's own commit is added too.
      await b.commit([one('b1', 'cliente_dos', 1, 'view')]);
      assert.equal((await get(app, '/reporte')).cache, 'hit', 'a duplicate changes nothing');
      await a.commit([one('a2', 'cliente_tres', 3)]);
      const own = await get(app, RANGE);
      assert.equal(own.cache, 'update');
      assert.deepEqual(own.body, await fresh(b, RANGE));
      await app.close();
    }));

  test('answers stay exact while both processes commit, one after the other and at once', () =>
    withStore('postgres', async (a, db) => {
      const b = await db.open();
      const app = apiOn(a);
      const clientes = ['cliente_uno', 'cliente_dos', 'cliente_tres'];
      let n = 0;
      // Event n: client n % 3, minute n % 15 (a third fall outside RANGE's ten minutes).
      const next = () => {
        const k = n++;
        return one(`e${k}`, clientes[k % 3]!, k % 15, k % 2 ? 'view' : 'click');
      };
      await a.commit([next()]);
      for (const url of ['/reporte', RANGE, SERIES]) assert.equal((await get(app, url)).cache, 'miss');
      for (let i = 0; i < 12; i++) {
        await (i % 3 === 0 ? a : b).commit([next(), next()]);
        for (const url of ['/reporte', RANGE, SERIES]) {
          const r = await get(app, url);
          assert.equal(r.cache, 'update', `${url} after commit ${i}`);
          assert.deepEqual(r.body, await fresh(b, url), `${url} after commit ${i}`);
        }
      }
      // B commits one event at a time while A answers: every answer is the store at one version.
      // With events of client n % 3, the store holding `total` events has each client's share.
      const share = (total: number, c: number) => Math.floor(total / 3) + (total % 3 > c ? 1 : 0);
      const writes = (async () => {
        for (let i = 0; i < 30; i++) await b.commit([next()]);
      })();
      const seen: number[] = [];
      let done = false;
      void writes.finally(() => {
        done = true;
      });
      while (!done) {
        const r = (await get(app, '/reporte')).body as { total: number; clientes: Record<string, number> };
        seen.push(r.total);
        clientes.forEach((c, i) => {
          assert.equal(r.clientes[c], share(r.total, i), `${c} at total ${r.total}`);
        });
      }
      await writes;
      assert.ok(
        seen.every((t, i) => i === 0 || t >= seen[i - 1]!),
        `answers never go back: ${seen}`,
      );
      for (const url of ['/reporte', RANGE, SERIES]) {
        assert.deepEqual((await get(app, url)).body, await fresh(b, url), url);
      }
      assert.equal(((await get(app, '/reporte')).body as { total: number }).total, n);
      await app.close();
    }));

  test('a rollup, or more commits than the log keeps, makes the next answer computed again', () =>
    withStore('postgres', async (a, db) => {
      const b = await db.open();
      const app = apiOn(a);
      // Half past an hour three days before NOW: rolled up into that hour, which starts before
      // the range's `from` (ten past): the range holds it until the rollup, and not after.
      const hour = Math.floor((NOW - 3 * 86_400) / 3600) * 3600;
      await a.commit([ev('old', 'cliente_uno', 'click', iso(hour + 1800))]);
      await a.commit([ev('recent', 'cliente_uno', 'click', iso(NOW - 3600))]);
      const range = `/api/v1/report?from=${iso(hour + 600)}`;
      assert.equal((await get(app, range)).body.total, 2);
      assert.equal((await get(app, range)).cache, 'hit');
      await get(app, '/reporte');
      const pass = await retentionPass(b, SETTINGS, { now: NOW });
      assert.ok(pass.minuteRows > 0, 'the rollup moved minute rows');
      const after = await get(app, range);
      assert.deepEqual([after.cache, after.body.total], ['miss', 1]);
      assert.deepEqual((await get(app, '/reporte')).cache, 'miss');
      assert.equal((await get(app, '/reporte')).cache, 'hit');

      for (let i = 0; i <= KEPT_CHANGES; i++) await b.commit([one(`b${i}`, 'cliente_dos', i % 10)]);
      const behind = await get(app, '/reporte');
      assert.deepEqual(behind, {
        cache: 'miss',
        body: { total: KEPT_CHANGES + 3, clientes: { cliente_dos: KEPT_CHANGES + 1, cliente_uno: 2 } },
      });
      await app.close();
    }));

  test('a read sees one snapshot and says its version', () =>
    withStore('postgres', async (a, db) => {
      const b = await db.open();
      const v0 = await a.version();
      await b.commit([one('b1', 'cliente_dos')]);
      const v1 = await a.version();
      assert.equal(Number(v1), Number(v0) + 1, "another process's commit moves the version by one");
      await b.commit([one('b1', 'cliente_dos')]);
      assert.equal(await a.version(), v1, 'a duplicate does not');
      const { value, at } = await a.read(async (s) => {
        const first = await s.clientTotals();
        // Committed meanwhile on another connection: not in this snapshot.
        await b.commit([one('b2', 'cliente_dos')]);
        return [first, await s.clientTotals()];
      });
      assert.equal(at, v1);
      assert.deepEqual(value[0], value[1]);
      assert.equal(Number(value[1]![0]!.count), 1);
      assert.equal(Number(await a.version()), Number(v1) + 1);
    }));
});
