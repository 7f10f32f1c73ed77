// Retention's view of a store (types.ts Maintenance): the retention lock, and the dedupe-window and
// rollup steps run under it, SQLite and PostgreSQL side by side; plus the span and sizes that
// `warren export` and `warren prune` show.
import {
  postgresHorizon,
  postgresNewestIdTime,
  postgresPrune,
  sqliteHorizon,
  sqliteNewestIdTime,
  sqlitePruner,
} from './horizon.js';
import { destroy } from './postgres.js';
import { postgresOldest, postgresRollUp, sqliteOldest, sqliteRoller } from './rollup.js';
import { num, params, where } from './sql.js';
import { SqlStore } from './store.js';
import { LEVELS } from './tables.js';
import type {
  Driver,
  Filter,
  Maintenance,
  MaintenanceSession,
  PostgresDriver,
  SqliteDriver,
  Store,
} from './types.js';

// Any constant, the same in every Warren process (the migration lock is 4_711_046).
const RETENTION_LOCK = 4_711_047;

// In-process guard for SQLite: two stores on one file in one process (tests, `warren analytics` +
// a simulation) run one pass at a time. Across processes a second runner is only wasted work:
// every step is atomic and moves what it deletes, so two runners never change a total.
const running = new Set<unknown>();

export function maintenanceOf(store: Store): Maintenance {
  if (!(store instanceof SqlStore)) throw new Error(`retention does not know the store kind "${store.kind}"`);
  const d: Driver = store.driver;
  return {
    exclusive: (fn) => (d.kind === 'sqlite' ? sqliteExclusive(d, fn) : postgresExclusive(d, fn)),
    span: (filter) => span(d, filter),
    horizon: async () => (d.kind === 'sqlite' ? sqliteHorizon(d, undefined) : postgresHorizon(d, undefined)),
    holdPruning: async (until) => (d.kind === 'sqlite' ? sqliteHorizon(d, until) : postgresHorizon(d, until)),
    sizes: async () => ({
      seen_ids: await count(d, 'seen_ids'),
      counts_minute: await count(d, 'counts_minute'),
      counts_hour: await count(d, 'counts_hour'),
      counts_day: await count(d, 'counts_day'),
    }),
  };
}

async function sqliteExclusive<T>(
  d: SqliteDriver,
  fn: (s: MaintenanceSession) => Promise<T>,
): Promise<T | undefined> {
  const key = d.path === ':memory:' ? d.db : d.path;
  if (running.has(key)) return undefined;
  running.add(key);
  try {
    const newest = sqliteNewestIdTime(d.db);
    const prune = sqlitePruner(d);
    const oldest = { minute: sqliteOldest(d.db, 'minute'), hour: sqliteOldest(d.db, 'hour') };
    const roll = { minute: sqliteRoller(d, 'minute'), hour: sqliteRoller(d, 'hour') };
    return await fn({
      newestIdTime: async (notAfter) => newest(notAfter),
      pruneIds: async (before, limit, now) => prune(before, limit, now),
      oldestBucket: async (level, after, before) => oldest[level](after, before),
      rollUp: async (level, start, end, limit) => roll[level](start, end, limit),
    });
  } finally {
    running.delete(key);
  }
}

/**
 * One runner at a time: a session-level pg_try_advisory_lock on the connection that does the
 * work; it is released on unlock or when that connection dies. Each step runs on that connection,
 * on its own (autocommit) or as one short transaction.
 */
async function postgresExclusive<T>(
  d: PostgresDriver,
  fn: (s: MaintenanceSession) => Promise<T>,
): Promise<T | undefined> {
  const c = await d.pool.connect();
  try {
    const locked =
      (await c.query('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK])).rows[0].ok === true;
    if (!locked) {
      c.release();
      return undefined;
    }
    const out = await fn({
      newestIdTime: (notAfter) => postgresNewestIdTime(c, notAfter),
      pruneIds: (before, limit, now) => postgresPrune(c, before, limit, now),
      oldestBucket: (level, after, before) => postgresOldest(c, level, after, before),
      rollUp: (level, start, end, limit) => postgresRollUp(c, level, start, end, limit),
    });
    await c.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]);
    c.release();
    return out;
  } catch (err) {
    // The connection may be dead (a query timed out): destroyed, not reused. Closing it also
    // releases the session's advisory lock.
    destroy(c, err);
    throw err;
  }
}

/** Earliest and latest bucket start matching the filter over all levels. */
async function span(d: Driver, filter: Filter): Promise<{ min: number; max: number } | undefined> {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const tbl of LEVELS) {
    const p = params(d.kind);
    const sql = `SELECT ${num(d.kind, 'MIN(t)')} AS lo, ${num(d.kind, 'MAX(t)')} AS hi FROM ${tbl} ${where(filter, p)}`;
    const [r] = await d.all<{ lo: unknown; hi: unknown }>(sql, p);
    if (r?.lo === null || r?.lo === undefined || r.hi === null || r.hi === undefined) continue;
    min = Math.min(min, Number(r.lo));
    max = Math.max(max, Number(r.hi));
  }
  return min === Number.POSITIVE_INFINITY ? undefined : { min, max };
}

async function count(d: Driver, table: string): Promise<number> {
  const [r] = await d.all<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}`, params(d.kind));
  return Number(r?.n);
}
