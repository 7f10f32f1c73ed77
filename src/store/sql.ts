// The fragments every query shares, written once for both dialects: placeholders, the filter's
// WHERE, the rows outside a range, the unions over the levels, the bucket floor.
import { LEVELS, SERIES_LEVELS } from './tables.js';
import type { Dialect, Filter, Params } from './types.js';

/**
 * A statement's placeholders: `$n` on PostgreSQL, `@pn` on SQLite (better-sqlite3 binds no
 * numbered parameters, and a placeholder may appear several times in one statement).
 */
export function params(dialect: Dialect): Params {
  const values: unknown[] = [];
  return {
    dialect,
    values,
    add(v) {
      values.push(v);
      return dialect === 'postgres' ? `$${values.length}` : `@p${values.length}`;
    },
  };
}

/** SQLite's binding of params(): `{ p1: v1, p2: v2, … }`. */
export function named(p: Params): Record<string, unknown> {
  return Object.fromEntries(p.values.map((v, i) => [`p${i + 1}`, v]));
}

/**
 * A number column as JavaScript reads it: PostgreSQL's bigint and numeric come back as strings
 * from pg, float8 as numbers (every count here is far below 2^53); SQLite's integers are numbers.
 */
export function num(dialect: Dialect, expr: string): string {
  return dialect === 'postgres' ? `${expr}::float8` : expr;
}

/** ORDER BY in byte order, as SQLite's default BINARY collation sorts (PostgreSQL: COLLATE "C"). */
export function bytes(dialect: Dialect, col: string): string {
  return dialect === 'postgres' ? `${col} COLLATE "C"` : col;
}

/** The filter's conditions, joined by AND. */
export function conditions(filter: Filter, p: Params): string[] {
  const parts: string[] = [];
  if (filter.from !== undefined) parts.push(`t >= ${p.add(filter.from)}`);
  if (filter.to !== undefined) parts.push(`t < ${p.add(filter.to)}`);
  if (filter.cliente !== undefined) parts.push(`cliente = ${p.add(filter.cliente)}`);
  if (filter.evento !== undefined) parts.push(`evento = ${p.add(filter.evento)}`);
  return parts;
}

export function where(filter: Filter, p: Params): string {
  const parts = conditions(filter, p);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/** Rows outside the filter's range (it has a `from`, a `to` or both), of its cliente/evento. */
export function outside(filter: Filter, p: Params): string {
  const sides: string[] = [];
  if (filter.from !== undefined) sides.push(`t < ${p.add(filter.from)}`);
  if (filter.to !== undefined) sides.push(`t >= ${p.add(filter.to)}`);
  const keys = where({ cliente: filter.cliente, evento: filter.evento }, p);
  const cond = `(${sides.join(' OR ')})`;
  return keys ? `${keys} AND ${cond}` : `WHERE ${cond}`;
}

/** The filter's rows of every level, as one relation of `cols`. */
export function unionAll(cols: string, filter: Filter, p: Params): string {
  const w = where(filter, p);
  return LEVELS.map((tbl) => `SELECT ${cols} FROM ${tbl} ${w}`).join(' UNION ALL ');
}

/** The per-bucket totals of every level (no cliente/evento filter), skipping rows moved up to 0. */
export function unionSeries(filter: Filter, p: Params): string {
  const w = where({ from: filter.from, to: filter.to }, p);
  const cond = w ? `${w} AND count <> 0` : 'WHERE count <> 0';
  return SERIES_LEVELS.map((tbl) => `SELECT t, count FROM ${tbl} ${cond}`).join(' UNION ALL ');
}

/** SQL for the start of t's bucket; correct for times before 1970 too (% truncates toward 0). */
export function floorTo(size: number): string {
  return `(t - ((t % ${size}) + ${size}) % ${size})`;
}
