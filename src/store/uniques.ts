// Distinct users (usuario) per bucket: the sketches of hll.ts kept beside the counters, per
// (bucket, cliente) and per (bucket, cliente, evento), one table per level (tables.ts).
//
// Users are scoped per client like ids (CONTRACT.md, "Event"): the sketch holds the pair
// (cliente, usuario), so "u1" of two clients is two users and an all-clients answer is the sum of
// the clients' distinct users, estimated once over the union.
//
// Writing is a read-merge-write of the stored bytes (no database extension does the merge), so it
// happens in the transaction that counts the events (commit.ts) or moves them (rollup.ts):
// - SQLite: one writer at a time (IMMEDIATE), a plain read then upsert.
// - PostgreSQL: insert the keys that have no row (ON CONFLICT DO NOTHING), then lock the rest
//   (SELECT … FOR UPDATE, in key order: concurrent commits and rollups lock in one order), merge
//   and update. A row a rollup deleted between the two is inserted again by the next round.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { ParsedEvent } from '../event.js';
import { murmur3, Sketch } from './hll.js';
import { bytes, floorTo, num, params, where } from './sql.js';
import { BUCKET_SECONDS, UNIQUES, UNIQUES_EVENTO } from './tables.js';
import type { Bucket, Driver, Filter, Uniques, UniquesExportRow } from './types.js';

/** One sketch row: by client (evento undefined) or by client and event type. */
export interface SketchRow {
  t: number;
  cliente: string;
  evento?: string;
  sketch: Sketch;
}

/** The two families of sketch tables and their keys. */
export type Family = 'cliente' | 'evento';
export const FAMILIES: readonly Family[] = ['cliente', 'evento'];
export const TABLES: Record<Family, Record<Bucket, string>> = { cliente: UNIQUES, evento: UNIQUES_EVENTO };
const KEYS: Record<Family, string> = { cliente: 't, cliente', evento: 't, cliente, evento' };

/** What a sketch holds for one event: the user scoped by its client. */
export function userKey(cliente: string, usuario: string): string {
  return `${cliente}\u0000${usuario}`;
}

const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const rowKey = (r: { t: number; cliente: string; evento?: string | undefined }) =>
  `${r.t}\u0000${r.cliente}\u0000${r.evento ?? ''}`;
/** Key order: t, then cliente and evento in byte order (PostgreSQL: COLLATE "C"). */
const keyOrder = (a: SketchRow, b: SketchRow) =>
  a.t - b.t || byBytes(a.cliente, b.cliente) || byBytes(a.evento ?? '', b.evento ?? '');

/** Groups rows by (bucket of `size`, cliente[, evento]), merging their sketches; in key order. */
export function group(rows: Iterable<SketchRow>, size: number): SketchRow[] {
  const out = new Map<string, SketchRow>();
  for (const r of rows) {
    const t = Math.floor(r.t / size) * size;
    const k = rowKey({ ...r, t });
    const g = out.get(k);
    if (g) g.sketch.merge(r.sketch);
    else {
      const s = new Sketch();
      s.merge(r.sketch);
      out.set(k, r.evento === undefined ? { t, cliente: r.cliente, sketch: s } : { ...r, t, sketch: s });
    }
  }
  return [...out.values()].sort(keyOrder);
}

/** The minute sketches of a commit's new events that carry a usuario, per family, in key order. */
export function batchSketches(fresh: ParsedEvent[]): Record<Family, SketchRow[]> {
  const cliente = new Map<string, SketchRow>();
  const evento = new Map<string, SketchRow>();
  for (const e of fresh) {
    if (e.usuario === undefined) continue;
    const t = Math.floor(e.ms / 60_000) * 60;
    // Hashed once for both families.
    const user = murmur3(userKey(e.cliente, e.usuario));
    for (const [map, row] of [
      [cliente, { t, cliente: e.cliente }],
      [evento, { t, cliente: e.cliente, evento: e.evento }],
    ] as const) {
      const k = rowKey(row);
      let r = map.get(k);
      if (!r) {
        r = { ...row, sketch: new Sketch() };
        map.set(k, r);
      }
      r.sketch.addHash(user);
    }
  }
  return { cliente: [...cliente.values()].sort(keyOrder), evento: [...evento.values()].sort(keyOrder) };
}

const keyValues = (r: SketchRow) => (r.evento === undefined ? [r.t, r.cliente] : [r.t, r.cliente, r.evento]);

// --- SQLite

/** Merges rows into a table of one family, inside the caller's transaction. */
export function sqliteMerger(
  db: Database.Database,
  family: Family,
  table: string,
): (rows: SketchRow[]) => void {
  const cond = family === 'cliente' ? 't = ? AND cliente = ?' : 't = ? AND cliente = ? AND evento = ?';
  const get = db.prepare(`SELECT sketch FROM ${table} WHERE ${cond}`).pluck();
  const put = db.prepare(
    `INSERT INTO ${table} (${KEYS[family]}, sketch) VALUES (${family === 'cliente' ? '?, ?, ?' : '?, ?, ?, ?'}) ` +
      `ON CONFLICT (${KEYS[family]}) DO UPDATE SET sketch = excluded.sketch`,
  );
  return (rows) => {
    for (const r of rows) {
      const old = get.get(...keyValues(r)) as Buffer | undefined;
      if (old === undefined) put.run(...keyValues(r), r.sketch.serialize());
      else {
        const s = Sketch.deserialize(old);
        if (s.merge(r.sketch)) put.run(...keyValues(r), s.serialize());
      }
    }
  };
}

// --- PostgreSQL

function pgArrays(family: Family, rows: SketchRow[]): unknown[] {
  const a: unknown[] = [rows.map((r) => r.t), rows.map((r) => r.cliente)];
  if (family === 'evento') a.push(rows.map((r) => r.evento));
  return a;
}

function pgSql(family: Family, table: string) {
  const ev = family === 'evento';
  const unnestKeys = ev
    ? 'unnest($1::bigint[], $2::text[], $3::text[]) AS k(t, c, e)'
    : 'unnest($1::bigint[], $2::text[]) AS k(t, c)';
  const match = `u.t = k.t AND u.cliente = k.c${ev ? ' AND u.evento = k.e' : ''}`;
  const order = `u.t, u.cliente COLLATE "C"${ev ? ', u.evento COLLATE "C"' : ''}`;
  const s = ev ? '$4' : '$3';
  return {
    insert:
      `INSERT INTO ${table} (${KEYS[family]}, sketch) ` +
      `SELECT * FROM unnest($1::bigint[], $2::text[], ${ev ? '$3::text[], ' : ''}${s}::bytea[]) ` +
      `ON CONFLICT DO NOTHING RETURNING t::float8 AS t, cliente${ev ? ', evento' : ''}`,
    lock:
      `SELECT u.t::float8 AS t, u.cliente${ev ? ', u.evento' : ''}, u.sketch FROM ${table} u, ${unnestKeys} ` +
      `WHERE ${match} ORDER BY ${order} FOR UPDATE OF u`,
    update:
      `UPDATE ${table} u SET sketch = k.s FROM unnest($1::bigint[], $2::text[], ${ev ? '$3::text[], ' : ''}${s}::bytea[]) ` +
      `AS k(t, c, ${ev ? 'e, ' : ''}s) WHERE ${match}`,
  };
}

/** Merges rows (in key order) into a table of one family, inside the caller's transaction. */
export async function postgresMerge(c: pg.PoolClient, family: Family, table: string, rows: SketchRow[]) {
  const sql = pgSql(family, table);
  let pending = rows;
  // Each round settles every row unless a rollup deleted one between the insert and the lock.
  while (pending.length > 0) {
    const inserted = await c.query(sql.insert, [
      ...pgArrays(family, pending),
      pending.map((r) => r.sketch.serialize()),
    ]);
    const done = new Set((inserted.rows as SketchRow[]).map((r) => rowKey({ ...r, t: Number(r.t) })));
    const rest = pending.filter((r) => !done.has(rowKey(r)));
    if (rest.length === 0) return;
    const locked = await c.query(sql.lock, pgArrays(family, rest));
    const stored = new Map<string, Buffer>();
    for (const r of locked.rows as (SketchRow & { sketch: Buffer })[]) {
      stored.set(rowKey({ ...r, t: Number(r.t) }), r.sketch);
    }
    const changed: SketchRow[] = [];
    const missing: SketchRow[] = [];
    for (const r of rest) {
      const old = stored.get(rowKey(r));
      if (old === undefined) {
        missing.push(r);
        continue;
      }
      const s = Sketch.deserialize(old);
      if (s.merge(r.sketch)) changed.push({ ...r, sketch: s });
    }
    if (changed.length > 0) {
      await c.query(sql.update, [...pgArrays(family, changed), changed.map((r) => r.sketch.serialize())]);
    }
    pending = missing;
  }
}

// --- Reading

/**
 * Distinct users matching the filter: every level's sketches whose bucket starts in the range,
 * merged (a bucket belongs to a range by its start, as for the counters). With an evento the
 * per-event sketches, otherwise the per-client ones.
 */
export async function uniques(d: Driver, filter: Filter, bucket?: Bucket): Promise<Uniques> {
  const family: Family = filter.evento === undefined ? 'cliente' : 'evento';
  const p = params(d.kind);
  const w = where(filter, p);
  const size = bucket === undefined ? 0 : BUCKET_SECONDS[bucket];
  const t = bucket === undefined ? 't' : d.kind === 'postgres' ? `${floorTo(size)}::float8` : floorTo(size);
  const sql = Object.values(TABLES[family])
    .map((tbl) => `SELECT ${t} AS t, sketch FROM ${tbl} ${w}`)
    .join(' UNION ALL ');
  const rows = await d.all<{ t: number; sketch: Buffer }>(sql, p);
  const total = new Sketch();
  const perBucket = new Map<number, Sketch>();
  for (const r of rows) {
    const s = Sketch.deserialize(r.sketch);
    if (bucket !== undefined) {
      const b = perBucket.get(Number(r.t));
      if (b) b.merge(s);
      else perBucket.set(Number(r.t), s);
    }
    total.merge(s);
  }
  const out: Uniques = { usuarios: total.estimate() };
  if (bucket !== undefined) {
    out.points = [...perBucket]
      .sort((a, b) => a[0] - b[0])
      .map(([bt, s]) => ({ t: bt, usuarios: s.estimate() }));
  }
  return out;
}

/** Distinct users per client in the range (for /api/v1/report), clients without users left out. */
export async function clientUniques(d: Driver, filter: Filter): Promise<Map<string, number>> {
  const family: Family = filter.evento === undefined ? 'cliente' : 'evento';
  const p = params(d.kind);
  const w = where(filter, p);
  const sql = Object.values(TABLES[family])
    .map((tbl) => `SELECT cliente, sketch FROM ${tbl} ${w}`)
    .join(' UNION ALL ');
  const per = new Map<string, Sketch>();
  for (const r of await d.all<{ cliente: string; sketch: Buffer }>(sql, p)) {
    const s = Sketch.deserialize(r.sketch);
    const c = per.get(r.cliente);
    if (c) c.merge(s);
    else per.set(r.cliente, s);
  }
  return new Map([...per].map(([c, s]) => [c, s.estimate()]));
}

/**
 * The users export: distinct users per (bucket, cliente), by bucket then client, streamed (the
 * driver's cursor) so a long range is never all in memory. The stored sketches of one group
 * arrive together (the ORDER BY), are merged, and leave as one line; at most one group's sketches
 * are held at a time. With an evento, that event type's users.
 */
export async function* exportUniques(
  d: Driver,
  filter: Filter,
  bucket: Bucket,
): AsyncIterable<UniquesExportRow> {
  const family: Family = filter.evento === undefined ? 'cliente' : 'evento';
  const p = params(d.kind);
  const w = where(filter, p);
  const size = BUCKET_SECONDS[bucket];
  const u = Object.values(TABLES[family])
    .map((tbl) => `SELECT ${floorTo(size)} AS t, cliente, sketch FROM ${tbl} ${w}`)
    .join(' UNION ALL ');
  const sql = `SELECT ${num(d.kind, 't')} AS t, cliente, sketch FROM (${u}) x ORDER BY 1, ${bytes(d.kind, 'cliente')}`;
  let cur: { t: number; cliente: string; sketch: Sketch } | undefined;
  for await (const r of d.stream<{ t: number; cliente: string; sketch: Buffer }>(sql, p)) {
    const t = Number(r.t);
    const s = Sketch.deserialize(r.sketch);
    if (cur !== undefined && cur.t === t && cur.cliente === r.cliente) {
      cur.sketch.merge(s);
      continue;
    }
    if (cur !== undefined) yield { t: cur.t, cliente: cur.cliente, usuarios: cur.sketch.estimate() };
    cur = { t, cliente: r.cliente, sketch: s };
  }
  if (cur !== undefined) yield { t: cur.t, cliente: cur.cliente, usuarios: cur.sketch.estimate() };
}
