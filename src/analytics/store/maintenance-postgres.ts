// Retention queries on PostgreSQL, where several analytics processes share the store.
// - One runner at a time: a session-level pg_try_advisory_lock on the connection that does the
//   work; it is released on unlock or when that connection dies.
// - The race with counting: a rollup step locks the rows it takes (FOR UPDATE) in the same order
//   the consumer upserts them (t, then cliente and evento in byte order, i.e. COLLATE "C"), so the
//   two never deadlock; then deletes them and adds what the DELETE RETURNED to the coarser level,
//   all in one statement. A commit that updated a taken row first makes the lock wait, and the
//   DELETE returns the updated count (READ COMMITTED re-reads the newest row version). A commit
//   that comes after waits on the row, finds it gone and inserts a fresh minute row
//   (INSERT ... ON CONFLICT is atomic insert-or-update), which the next pass rolls up.
import type pg from 'pg';
import {
  COARSER,
  type DedupeHorizon,
  type Maintenance,
  type MaintenanceSession,
  mergeSpans,
  type RollLevel,
  SERIES_TABLE,
  SIZE,
  TABLE,
} from './maintenance.js';
import { where } from './postgres.js';
import type { Filter } from './types.js';

// Any constant, the same in every Warren process (the migration lock is 4_711_046).
const RETENTION_LOCK = 4_711_047;

function rollSql(level: RollLevel): string {
  const from = TABLE[level];
  const to = TABLE[COARSER[level]];
  const size = SIZE[COARSER[level]];
  const sFrom = SERIES_TABLE[level];
  const sTo = SERIES_TABLE[COARSER[level]];
  return (
    `WITH taken AS (SELECT t, cliente, evento FROM ${from} WHERE t >= $1 AND t < $2 ` +
    'ORDER BY t, cliente COLLATE "C", evento COLLATE "C" LIMIT $3 FOR UPDATE), ' +
    `moved AS (DELETE FROM ${from} m USING taken k ` +
    'WHERE m.t = k.t AND m.cliente = k.cliente AND m.evento = k.evento RETURNING m.t, m.cliente, m.evento, m.count), ' +
    `added AS (INSERT INTO ${to} (t, cliente, evento, count) ` +
    `SELECT t - ((t % ${size}) + ${size}) % ${size}, cliente, evento, SUM(count) FROM moved GROUP BY 1, 2, 3 ` +
    'ORDER BY 1, cliente COLLATE "C", evento COLLATE "C" ' +
    `ON CONFLICT (t, cliente, evento) DO UPDATE SET count = ${to}.count + excluded.count), ` +
    // The per-bucket series move with the counters, in the same statement (same invariant).
    `series_taken AS (UPDATE ${sFrom} s SET count = s.count - m.n ` +
    'FROM (SELECT t, SUM(count) AS n FROM moved GROUP BY t) m WHERE s.t = m.t), ' +
    `series_added AS (INSERT INTO ${sTo} (t, count) ` +
    `SELECT t - ((t % ${size}) + ${size}) % ${size}, SUM(count) FROM moved GROUP BY 1 ORDER BY 1 ` +
    `ON CONFLICT (t) DO UPDATE SET count = ${sTo}.count + excluded.count) ` +
    'SELECT COUNT(*)::int AS n FROM moved'
  );
}

export class PostgresMaintenance implements Maintenance {
  constructor(private readonly pool: pg.Pool) {}

  async exclusive<T>(fn: (s: MaintenanceSession) => Promise<T>): Promise<T | undefined> {
    const c = await this.pool.connect();
    let locked = false;
    try {
      locked = (await c.query('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK])).rows[0].ok === true;
      if (!locked) {
        c.release();
        return undefined;
      }
      const out = await fn(session(c));
      await c.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]);
      c.release();
      return out;
    } catch (err) {
      // The connection may be dead (a query timed out): destroyed, not reused. Closing it also
      // releases the session's advisory lock.
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async span(filter: Filter): Promise<{ min: number; max: number } | undefined> {
    const rows = [];
    for (const tbl of Object.values(TABLE)) {
      const params: unknown[] = [];
      const sql = `SELECT MIN(t)::float8 AS lo, MAX(t)::float8 AS hi FROM ${tbl} ${where(filter, params)}`;
      rows.push((await this.pool.query(sql, params)).rows[0]);
    }
    return mergeSpans(rows);
  }

  async horizon(): Promise<DedupeHorizon> {
    return this.readHorizon(undefined);
  }

  async holdPruning(until: number): Promise<DedupeHorizon> {
    return this.readHorizon(until);
  }

  /** Reads the horizon and, given `until`, holds pruning until then, under the row's lock. */
  private async readHorizon(until: number | undefined): Promise<DedupeHorizon> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const h = await c.query('SELECT t::float8 AS t FROM dedupe_horizon WHERE k = 1 FOR UPDATE');
      if (until !== undefined)
        await c.query('UPDATE dedupe_horizon SET held_until = GREATEST(held_until, $1) WHERE k = 1', [until]);
      const counted = await c.query('SELECT EXISTS (SELECT 1 FROM totals WHERE count <> 0) AS any');
      await c.query('COMMIT');
      c.release();
      const t = h.rows[0]?.t as number | null | undefined;
      return { horizon: t == null ? undefined : Number(t), empty: counted.rows[0].any !== true };
    } catch (err) {
      // Destroyed, not rolled back: the server rolls back a closed session (the query may have
      // timed out on a dead connection).
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async sizes() {
    const n = async (tbl: string) =>
      Number((await this.pool.query(`SELECT COUNT(*) AS n FROM ${tbl}`)).rows[0].n);
    return {
      seen_ids: await n('seen_ids'),
      counts_minute: await n('counts_minute'),
      counts_hour: await n('counts_hour'),
      counts_day: await n('counts_day'),
    };
  }
}

const PRUNE_IDS =
  'WITH gone AS (DELETE FROM seen_ids WHERE (cliente, id) IN ' +
  '(SELECT cliente, id FROM seen_ids WHERE t < $1 LIMIT $2) RETURNING 1), ' +
  'raised AS (UPDATE dedupe_horizon SET t = GREATEST(t, $1) WHERE k = 1 AND EXISTS (SELECT 1 FROM gone)) ' +
  'SELECT COUNT(*)::int AS n FROM gone';

// Each query runs on its own (autocommit): one statement, one short transaction.
function session(c: pg.PoolClient): MaintenanceSession {
  const one = async (sql: string, params: unknown[]) => (await c.query(sql, params)).rows[0];
  return {
    newestIdTime: async (notAfter) => {
      const r = await one('SELECT MAX(t)::float8 AS t FROM seen_ids WHERE t <= $1', [notAfter]);
      return r.t === null ? undefined : Number(r.t);
    },
    // One transaction: the horizon moves with the ids it forgets. The horizon row is locked
    // first, so a replay's holdPruning() comes either before (and holds this) or after (and
    // reads the raised horizon).
    pruneIds: async (before, limit, now) => {
      await c.query('BEGIN');
      try {
        const held = await one(
          'SELECT held_until::float8 AS h FROM dedupe_horizon WHERE k = 1 FOR UPDATE',
          [],
        );
        let n = 0;
        if (held?.h === null || held?.h === undefined || Number(held.h) <= now) {
          n = Number((await one(PRUNE_IDS, [before, limit])).n);
        }
        await c.query('COMMIT');
        return n;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
    oldestBucket: async (level, after, before) => {
      const r = await one(`SELECT MIN(t)::float8 AS t FROM ${TABLE[level]} WHERE t >= $1 AND t < $2`, [
        after,
        before,
      ]);
      return r.t === null ? undefined : Number(r.t);
    },
    rollUp: async (level, start, end, limit) => {
      const n = (await one(rollSql(level), [start, end, limit])).n as number;
      // Series rows emptied by the move; a late commit that refilled one keeps it (count <> 0).
      await c.query(`DELETE FROM ${SERIES_TABLE[level]} WHERE t >= $1 AND t < $2 AND count = 0`, [
        start,
        end,
      ]);
      return n;
    },
  };
}
