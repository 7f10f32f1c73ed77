// The dedupe window: forgetting old ids, and the horizon that says up to when ids may have been
// forgotten (types.ts DedupeHorizon), SQLite and PostgreSQL side by side. Pruning raises the
// horizon in the same transaction as the ids it forgets; a replay reads it, and may hold pruning,
// under the horizon row's lock (SQLite: the write lock), so the two are always ordered.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { DedupeHorizon, PostgresDriver, SqliteDriver } from './types.js';

const SQL = {
  newestId: {
    sqlite: 'SELECT MAX(t) AS t FROM seen_ids WHERE t <= ?',
    postgres: 'SELECT MAX(t)::float8 AS t FROM seen_ids WHERE t <= $1',
  },
  heldUntil: {
    sqlite: 'SELECT held_until AS h FROM dedupe_horizon WHERE k = 1',
    postgres: 'SELECT held_until::float8 AS h FROM dedupe_horizon WHERE k = 1 FOR UPDATE',
  },
  /** Forgets ids and raises the horizon (PostgreSQL: in one statement; SQLite: two, one transaction). */
  prune: {
    sqlite:
      'DELETE FROM seen_ids WHERE (cliente, id) IN (SELECT cliente, id FROM seen_ids WHERE t < ? LIMIT ?)',
    postgres:
      'WITH gone AS (DELETE FROM seen_ids WHERE (cliente, id) IN ' +
      '(SELECT cliente, id FROM seen_ids WHERE t < $1 LIMIT $2) RETURNING 1), ' +
      'raised AS (UPDATE dedupe_horizon SET t = GREATEST(t, $1) WHERE k = 1 AND EXISTS (SELECT 1 FROM gone)) ' +
      'SELECT COUNT(*)::int AS n FROM gone',
  },
  raise: { sqlite: 'UPDATE dedupe_horizon SET t = ? WHERE k = 1 AND (t IS NULL OR t < ?)' },
  horizon: {
    sqlite: 'SELECT t FROM dedupe_horizon WHERE k = 1',
    postgres: 'SELECT t::float8 AS t FROM dedupe_horizon WHERE k = 1 FOR UPDATE',
  },
  hold: {
    sqlite: 'UPDATE dedupe_horizon SET held_until = ? WHERE k = 1 AND (held_until IS NULL OR held_until < ?)',
    postgres: 'UPDATE dedupe_horizon SET held_until = GREATEST(held_until, $1) WHERE k = 1',
  },
  counted: 'SELECT EXISTS (SELECT 1 FROM totals WHERE count <> 0) AS any',
};

const orUndefined = (t: unknown) => (t === null || t === undefined ? undefined : Number(t));
/** Pruning waits while a replay holds it (held_until after now). */
const held = (h: unknown, now: number) => h !== null && h !== undefined && Number(h) > now;

// --- SQLite: statements on the store's one connection, each call one IMMEDIATE transaction.

export function sqliteNewestIdTime(db: Database.Database): (notAfter: number) => number | undefined {
  const newest = db.prepare(SQL.newestId.sqlite);
  return (notAfter) => orUndefined((newest.get(notAfter) as { t: number | null }).t);
}

export function sqlitePruner(d: SqliteDriver): (before: number, limit: number, now: number) => number {
  const heldUntil = d.db.prepare(SQL.heldUntil.sqlite).pluck();
  const prune = d.db.prepare(SQL.prune.sqlite);
  const raise = d.db.prepare(SQL.raise.sqlite);
  return d.immediate((before: number, limit: number, now: number): number => {
    if (held(heldUntil.get(), now)) return 0;
    const n = prune.run(before, limit).changes;
    if (n > 0) raise.run(before, before);
    return n;
  });
}

/** Reads the horizon and, given `until`, holds pruning until then, under the write lock. */
export function sqliteHorizon(d: SqliteDriver, until: number | undefined): DedupeHorizon {
  const db = d.db;
  return d.immediate((): DedupeHorizon => {
    if (until !== undefined) db.prepare(SQL.hold.sqlite).run(until, until);
    const t = db.prepare(SQL.horizon.sqlite).pluck().get();
    const counted = db.prepare(SQL.counted).pluck().get();
    return { horizon: orUndefined(t), empty: counted !== 1 };
  })();
}

// --- PostgreSQL: on the connection that holds the retention lock (pruning), or a pooled one.

export async function postgresNewestIdTime(c: pg.PoolClient, notAfter: number): Promise<number | undefined> {
  return orUndefined((await c.query(SQL.newestId.postgres, [notAfter])).rows[0]?.t);
}

/**
 * One transaction: the horizon moves with the ids it forgets. The horizon row is locked first,
 * so a replay's holdPruning() comes either before (and holds this) or after (and reads the raised
 * horizon).
 */
export async function postgresPrune(
  c: pg.PoolClient,
  before: number,
  limit: number,
  now: number,
): Promise<number> {
  await c.query('BEGIN');
  try {
    const h = (await c.query(SQL.heldUntil.postgres)).rows[0]?.h;
    const n = held(h, now) ? 0 : Number((await c.query(SQL.prune.postgres, [before, limit])).rows[0].n);
    await c.query('COMMIT');
    return n;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Reads the horizon and, given `until`, holds pruning until then, under the row's lock. */
export function postgresHorizon(d: PostgresDriver, until: number | undefined): Promise<DedupeHorizon> {
  return d.transaction(async (c) => {
    const h = await c.query(SQL.horizon.postgres);
    if (until !== undefined) await c.query(SQL.hold.postgres, [until]);
    const counted = await c.query(SQL.counted);
    return { horizon: orUndefined(h.rows[0]?.t), empty: counted.rows[0].any !== true };
  });
}
