// Rollups: a chunk of rows of one level moves into the next coarser level in ONE transaction
// (delete them, add their counts to the coarser rows, move the per-bucket series likewise), so
// every count lives in exactly one level at every moment and no total or range sum changes.
//
// PostgreSQL, where analytics commits at the same time: a step locks the rows it takes (FOR
// UPDATE) in the order the consumer upserts them (t, then cliente and evento in byte order, i.e.
// COLLATE "C"), so the two never deadlock; then deletes them and adds what the DELETE RETURNED to
// the coarser level, all in one statement. A commit that updated a taken row first makes the lock
// wait, and the DELETE returns the updated count (READ COMMITTED re-reads the newest row version).
// A commit that comes after waits on the row, finds it gone and inserts a fresh minute row (INSERT
// ... ON CONFLICT is atomic insert-or-update), which the next pass rolls up.
// SQLite has one writer at a time: the step is one IMMEDIATE transaction run in JavaScript.
//
// The distinct-user sketches of the same range move in the same transaction (uniques.ts): up to
// `limit` rows of each sketch table, deleted and merged into the coarser sketches. A range has at
// most as many sketch rows of each family as counter rows (every sketch row's events are counted
// there too), so the chunks that empty a range of counters empty its sketches as well.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { Sketch } from './hll.js';
import { floorTo } from './sql.js';
import { BUCKET_SECONDS, COARSER, COUNTS, SERIES } from './tables.js';
import type { RollLevel, SqliteDriver } from './types.js';
import {
  FAMILIES,
  type Family,
  group,
  postgresMerge,
  type SketchRow,
  sqliteMerger,
  TABLES,
} from './uniques.js';
import { bump } from './versions.js';

const SQL = {
  oldest: {
    sqlite: (level: RollLevel) => `SELECT MIN(t) AS t FROM ${COUNTS[level]} WHERE t >= ? AND t < ?`,
    postgres: (level: RollLevel) =>
      `SELECT MIN(t)::float8 AS t FROM ${COUNTS[level]} WHERE t >= $1 AND t < $2`,
  },
};

/** The rollup of `level`, its source and target tables and the target bucket size. */
function tables(level: RollLevel) {
  const up = COARSER[level];
  return {
    from: COUNTS[level],
    to: COUNTS[up],
    sFrom: SERIES[level],
    sTo: SERIES[up],
    size: BUCKET_SECONDS[up],
  };
}

// --- SQLite

export function sqliteOldest(
  db: Database.Database,
  level: RollLevel,
): (after: number, before: number) => number | undefined {
  const oldest = db.prepare(SQL.oldest.sqlite(level));
  return (after, before) => (oldest.get(after, before) as { t: number | null }).t ?? undefined;
}

type Row = { t: number; cliente: string; evento: string; count: number };

/** SQLite's step, statement by statement (PostgreSQL's is one statement: rollSql). */
function sqliteSql(level: RollLevel) {
  const { from, to, sFrom, sTo } = tables(level);
  return {
    take:
      `DELETE FROM ${from} WHERE (t, cliente, evento) IN ` +
      `(SELECT t, cliente, evento FROM ${from} WHERE t >= ? AND t < ? LIMIT ?) ` +
      'RETURNING t, cliente, evento, count',
    add:
      `INSERT INTO ${to} (t, cliente, evento, count) VALUES (?, ?, ?, ?) ` +
      'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = count + excluded.count',
    // The per-bucket series move with the counters, in the same transaction (same invariant).
    seriesTake: `UPDATE ${sFrom} SET count = count - ? WHERE t = ?`,
    seriesDrop: `DELETE FROM ${sFrom} WHERE t = ? AND count = 0`,
    seriesAdd: `INSERT INTO ${sTo} (t, count) VALUES (?, ?) ON CONFLICT (t) DO UPDATE SET count = count + excluded.count`,
  };
}

/** What moving `rows` into buckets of `size` adds up to: the coarser counter rows and both levels' series. */
function moved(rows: Row[], size: number) {
  const counters = new Map<string, { t: number; cliente: string; evento: string; n: number }>();
  const fromBuckets = new Map<number, number>();
  const toBuckets = new Map<number, number>();
  for (const r of rows) {
    const t = Math.floor(r.t / size) * size;
    const k = `${t}\u0000${r.cliente}\u0000${r.evento}`;
    const s = counters.get(k);
    if (s) s.n += r.count;
    else counters.set(k, { t, cliente: r.cliente, evento: r.evento, n: r.count });
    fromBuckets.set(r.t, (fromBuckets.get(r.t) ?? 0) + r.count);
    toBuckets.set(t, (toBuckets.get(t) ?? 0) + r.count);
  }
  return { counters: counters.values(), fromBuckets, toBuckets };
}

/** One transaction: delete a chunk of rows of `level` and add their counts to the coarser level. */
export function sqliteRoller(
  d: SqliteDriver,
  level: RollLevel,
): (start: number, end: number, limit: number) => number {
  const sql = sqliteSql(level);
  const take = d.db.prepare(sql.take);
  const add = d.db.prepare(sql.add);
  const seriesTake = d.db.prepare(sql.seriesTake);
  const seriesDrop = d.db.prepare(sql.seriesDrop);
  const seriesAdd = d.db.prepare(sql.seriesAdd);
  const { size } = tables(level);
  const sketches = FAMILIES.map((f) => sqliteSketchRoller(d.db, f, level));
  return d.immediate((start: number, end: number, limit: number): number => {
    const rows = take.all(start, end, limit) as Row[];
    const m = moved(rows, size);
    for (const s of m.counters) add.run(s.t, s.cliente, s.evento, s.n);
    for (const [t, n] of m.fromBuckets) {
      seriesTake.run(n, t);
      seriesDrop.run(t);
    }
    for (const [t, n] of m.toBuckets) seriesAdd.run(t, n);
    for (const roll of sketches) roll(start, end, limit);
    return rows.length;
  });
}

type StoredSketch = { t: number; cliente: string; evento?: string; sketch: Buffer };
const toRows = (rows: StoredSketch[]): SketchRow[] =>
  rows.map((r) => ({ ...r, t: Number(r.t), sketch: Sketch.deserialize(r.sketch) }));
const sketchCols = (f: Family, prefix = '') =>
  f === 'cliente' ? `${prefix}t, ${prefix}cliente` : `${prefix}t, ${prefix}cliente, ${prefix}evento`;

/** Moves up to `limit` sketch rows of one family in [start, end) into the coarser level (SQLite). */
function sqliteSketchRoller(db: Database.Database, f: Family, level: RollLevel) {
  const from = TABLES[f][level];
  const take = db.prepare(
    `DELETE FROM ${from} WHERE rowid IN (SELECT rowid FROM ${from} WHERE t >= ? AND t < ? LIMIT ?) ` +
      `RETURNING ${sketchCols(f)}, sketch`,
  );
  const merge = sqliteMerger(db, f, TABLES[f][COARSER[level]]);
  const size = BUCKET_SECONDS[COARSER[level]];
  return (start: number, end: number, limit: number) => {
    merge(group(toRows(take.all(start, end, limit) as StoredSketch[]), size));
  };
}

// --- PostgreSQL

export async function postgresOldest(
  c: pg.PoolClient,
  level: RollLevel,
  after: number,
  before: number,
): Promise<number | undefined> {
  const t = (await c.query(SQL.oldest.postgres(level), [after, before])).rows[0]?.t;
  return t === null || t === undefined ? undefined : Number(t);
}

function rollSql(level: RollLevel): string {
  const { from, to, sFrom, sTo, size } = tables(level);
  return (
    `WITH taken AS (SELECT t, cliente, evento FROM ${from} WHERE t >= $1 AND t < $2 ` +
    'ORDER BY t, cliente COLLATE "C", evento COLLATE "C" LIMIT $3 FOR UPDATE), ' +
    `moved AS (DELETE FROM ${from} m USING taken k ` +
    'WHERE m.t = k.t AND m.cliente = k.cliente AND m.evento = k.evento RETURNING m.t, m.cliente, m.evento, m.count), ' +
    `added AS (INSERT INTO ${to} (t, cliente, evento, count) ` +
    `SELECT ${floorTo(size)}, cliente, evento, SUM(count) FROM moved GROUP BY 1, 2, 3 ` +
    'ORDER BY 1, cliente COLLATE "C", evento COLLATE "C" ' +
    `ON CONFLICT (t, cliente, evento) DO UPDATE SET count = ${to}.count + excluded.count), ` +
    // The per-bucket series move with the counters, in the same statement (same invariant).
    `series_taken AS (UPDATE ${sFrom} s SET count = s.count - m.n ` +
    'FROM (SELECT t, SUM(count) AS n FROM moved GROUP BY t) m WHERE s.t = m.t), ' +
    `series_added AS (INSERT INTO ${sTo} (t, count) ` +
    `SELECT ${floorTo(size)}, SUM(count) FROM moved GROUP BY 1 ORDER BY 1 ` +
    `ON CONFLICT (t) DO UPDATE SET count = ${sTo}.count + excluded.count) ` +
    'SELECT COUNT(*)::int AS n FROM moved'
  );
}

/**
 * One transaction: one statement moves the chunk of counters, a second drops the series rows it
 * emptied, then the sketches of the range move (their merge is done here in JavaScript). A failure
 * leaves the connection to the caller, which destroys it: the server rolls the whole step back.
 */
export async function postgresRollUp(
  c: pg.PoolClient,
  level: RollLevel,
  start: number,
  end: number,
  limit: number,
): Promise<number> {
  await c.query('BEGIN');
  const n = (await c.query(rollSql(level), [start, end, limit])).rows[0].n as number;
  // Series rows emptied by the move; a late commit that refilled one keeps it (count <> 0).
  await c.query(`DELETE FROM ${SERIES[level]} WHERE t >= $1 AND t < $2 AND count = 0`, [start, end]);
  const size = BUCKET_SECONDS[COARSER[level]];
  let sketchRows = 0;
  for (const f of FAMILIES) {
    const from = TABLES[f][level];
    const order = `t, cliente COLLATE "C"${f === 'evento' ? ', evento COLLATE "C"' : ''}`;
    const match = `m.t = k.t AND m.cliente = k.cliente${f === 'evento' ? ' AND m.evento = k.evento' : ''}`;
    // Locked in the order commits lock them (uniques.ts), so the two never deadlock.
    const taken = await c.query(
      `WITH k AS (SELECT ${sketchCols(f)} FROM ${from} WHERE t >= $1 AND t < $2 ORDER BY ${order} LIMIT $3 FOR UPDATE) ` +
        `DELETE FROM ${from} m USING k WHERE ${match} RETURNING ${sketchCols(f, 'm.')}, m.sketch`,
      [start, end, limit],
    );
    sketchRows += taken.rows.length;
    const rows = group(toRows(taken.rows as StoredSketch[]), size);
    if (rows.length > 0) await postgresMerge(c, f, TABLES[f][COARSER[level]], rows);
  }
  // A move changes which level holds a bucket, so kept answers cannot take it: a new store
  // version with nothing to add (versions.ts), as the step's last statement.
  if (n > 0 || sketchRows > 0) await bump(c, null);
  await c.query('COMMIT');
  return n;
}
