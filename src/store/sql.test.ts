// The shared fragments (sql.ts): each dialect's placeholders bind the filter's values in order,
// and the fragments select what they say, checked on an in-memory SQLite database against a plain
// JavaScript reading of the same rows (PostgreSQL runs the same text in test/store.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { floorTo, named, outside, params, where } from './sql.js';
import { LEVELS } from './tables.js';
import type { Filter } from './types.js';

const ROWS = [
  { t: -3600, cliente: 'a', evento: 'x', count: 1 },
  { t: -60, cliente: 'a', evento: 'y', count: 2 },
  { t: 0, cliente: 'b', evento: 'x', count: 3 },
  { t: 59, cliente: 'a', evento: 'x', count: 4 },
  { t: 3600, cliente: 'b', evento: 'y', count: 5 },
  { t: 7260, cliente: 'a', evento: 'x', count: 6 },
];
type Row = (typeof ROWS)[number];

const matches = (f: Filter, r: Row) =>
  (f.cliente === undefined || r.cliente === f.cliente) && (f.evento === undefined || r.evento === f.evento);
const inRange = (f: Filter, r: Row) =>
  (f.from === undefined || r.t >= f.from) && (f.to === undefined || r.t < f.to);

function database(): Database.Database {
  const db = new Database(':memory:');
  for (const tbl of LEVELS) {
    db.exec(`CREATE TABLE ${tbl} (t INTEGER, cliente TEXT, evento TEXT, count INTEGER)`);
  }
  const insert = db.prepare('INSERT INTO counts_minute VALUES (@t, @cliente, @evento, @count)');
  for (const r of ROWS) insert.run(r);
  return db;
}

const FILTERS: Filter[] = [
  {},
  { from: 0 },
  { to: 60 },
  { from: -60, to: 3600 },
  { from: -3600, to: 7260, cliente: 'a' },
  { cliente: 'b', evento: 'y' },
  { from: 0, evento: 'x' },
];

describe('store SQL fragments', () => {
  it('writes $n on PostgreSQL and @pn on SQLite, binding the values in order', () => {
    const f = { from: 1, to: 2, cliente: 'c', evento: 'e' };
    const pg = params('postgres');
    assert.equal(where(f, pg), 'WHERE t >= $1 AND t < $2 AND cliente = $3 AND evento = $4');
    assert.deepEqual(pg.values, [1, 2, 'c', 'e']);
    const lite = params('sqlite');
    assert.equal(where(f, lite), 'WHERE t >= @p1 AND t < @p2 AND cliente = @p3 AND evento = @p4');
    assert.deepEqual(named(lite), { p1: 1, p2: 2, p3: 'c', p4: 'e' });
    assert.equal(where({}, params('sqlite')), '');
  });

  it('where() selects the rows of the filter, outside() those of its keys outside its range', () => {
    const db = database();
    try {
      for (const f of FILTERS) {
        const p = params('sqlite');
        const inside = db
          .prepare(`SELECT t FROM counts_minute ${where(f, p)} ORDER BY t`)
          .pluck()
          .all(named(p));
        const want = ROWS.filter((r) => matches(f, r) && inRange(f, r)).map((r) => r.t);
        assert.deepEqual(inside, want, JSON.stringify(f));
        if (f.from === undefined && f.to === undefined) continue;
        const q = params('sqlite');
        // One fragment written into each level's SELECT, as report() does: its placeholders repeat.
        const fragment = outside(f, q);
        const sql = LEVELS.map((tbl) => `SELECT t FROM ${tbl} ${fragment}`).join(' UNION ALL ');
        const out = db.prepare(`SELECT t FROM (${sql}) ORDER BY t`).pluck().all(named(q));
        assert.deepEqual(
          out,
          ROWS.filter((r) => matches(f, r) && !inRange(f, r)).map((r) => r.t),
          JSON.stringify(f),
        );
      }
    } finally {
      db.close();
    }
  });

  it('floorTo() gives the start of the bucket, before 1970 too', () => {
    const db = new Database(':memory:');
    try {
      for (const size of [60, 3600, 86_400]) {
        for (const t of [-86_401, -3601, -61, -60, -1, 0, 1, 59, 60, 3599, 86_400, 90_061]) {
          const got = db
            .prepare(`SELECT ${floorTo(size)} AS b FROM (SELECT ? AS t)`)
            .pluck()
            .get(t);
          assert.equal(got, Math.floor(t / size) * size, `t=${t} size=${size}`);
        }
      }
    } finally {
      db.close();
    }
  });
});
