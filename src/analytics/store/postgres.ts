// PostgreSQL store (pg): one database shared by several analytics consumers. Dedupe and counter
// updates commit together; two batches touching one counter row serialise on its row lock, and
// the unique key on ids settles races on the same id (DESIGN.md, "Scale-out").
import pg from 'pg';
import type { ParsedEvent } from '../../event.js';
import { PostgresReconcile } from './reconcile.js';
import {
  aggregate,
  BUCKET_SECONDS,
  type Bucket,
  type ClientReport,
  type ClientTotal,
  type CommitResult,
  type CountRow,
  complementIsSmaller,
  type ExportRow,
  type Filter,
  floorTo,
  groupByClient,
  type Point,
  perMinute,
  readMigrations,
  rememberedFrom,
  type Store,
  type StoreOptions,
} from './types.js';

const LEVELS = ['counts_minute', 'counts_hour', 'counts_day'] as const;
const SERIES = ['series_minute', 'series_hour', 'series_day'] as const;
// Any constant works; it only has to be the same in every Warren process.
const MIGRATION_LOCK = 4_711_046;
/**
 * Bounds on every connection, so a connection the network dropped silently (no FIN, no RST: a
 * NAT or firewall forgetting the flow) fails the batch instead of leaving a commit waiting
 * forever; the consumer then retries it on a new connection (DESIGN.md, store errors).
 */
export const PG_LIMITS = {
  /** Client side: a query unanswered this long fails, and its connection is destroyed. */
  query_timeout: 15_000,
  /** Server side: a statement running longer (a lock wait behind a dead session) is cancelled. */
  statement_timeout: 10_000,
  /**
   * Server side: a session left inside a transaction by a vanished client is ended, releasing the
   * row locks that the retried batch would otherwise wait on for as long as the server keeps it.
   */
  idle_in_transaction_session_timeout: 10_000,
  /** TCP keepalive: an idle pooled connection whose peer is gone is found and dropped. */
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
};

/**
 * A query that may rightly run long (a migration, a page of a big export): its own client-side
 * timeout of a day (pg reads query_timeout per query, though its types omit it, and has no "none").
 */
function unbounded(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: 24 * 3600_000 } as pg.QueryConfig;
}

// Ids remembered before ids were scoped per client (migration 004) are kept under cliente '' and
// stay known for every client until the dedupe window forgets them.
const LEGACY_FILTER = "WHERE NOT EXISTS (SELECT 1 FROM seen_ids s WHERE s.cliente = '' AND s.id = u.i)";

export function where(filter: Filter, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    parts.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.from !== undefined) add('t >= ?', filter.from);
  if (filter.to !== undefined) add('t < ?', filter.to);
  if (filter.cliente !== undefined) add('cliente = ?', filter.cliente);
  if (filter.evento !== undefined) add('evento = ?', filter.evento);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/** The per-bucket totals of every level (no cliente/evento filter), skipping rows moved up to 0. */
function unionSeries(filter: Filter, params: unknown[]): string {
  const w = where({ from: filter.from, to: filter.to }, params);
  const cond = w ? `${w} AND count <> 0` : 'WHERE count <> 0';
  return SERIES.map((tbl) => `SELECT t, count FROM ${tbl} ${cond}`).join(' UNION ALL ');
}

/** Rows outside the filter's range (it has a `from`, a `to` or both), of its cliente/evento. */
function outside(filter: Filter, params: unknown[]): string {
  const sides: string[] = [];
  if (filter.from !== undefined) {
    params.push(filter.from);
    sides.push(`t < $${params.length}`);
  }
  if (filter.to !== undefined) {
    params.push(filter.to);
    sides.push(`t >= $${params.length}`);
  }
  const keys = where({ cliente: filter.cliente, evento: filter.evento }, params);
  const cond = `(${sides.join(' OR ')})`;
  return keys ? `${keys} AND ${cond}` : `WHERE ${cond}`;
}

function unionAll(cols: string, filter: Filter, params: unknown[]): string {
  const w = where(filter, params);
  return LEVELS.map((tbl) => `SELECT ${cols} FROM ${tbl} ${w}`).join(' UNION ALL ');
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;

  private readonly now: () => number;
  private legacy = { maybe: true, checkedAt: Number.NEGATIVE_INFINITY };
  /** Reconcile's ledger (reconcile.ts). */
  readonly reconcile: PostgresReconcile;

  constructor(url: string, opts: StoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    // DATABASE_URL parameters of the same names override PG_LIMITS (pg reads them from the URL).
    this.pool = new pg.Pool({ ...PG_LIMITS, connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
    // A client losing its server (PostgreSQL restarted) must not crash the process: idle clients
    // report on the pool, checked-out ones on the client itself. The query in flight still
    // rejects, so the consumer backs off and retries its batch (DESIGN.md).
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.reconcile = new PostgresReconcile(this.pool);
  }

  async migrate(): Promise<void> {
    const migrations = await readMigrations('postgres');
    const c = await this.pool.connect();
    // A migration of a big table, or the wait for another process's, may take longer than the
    // limits meant for a batch (PG_LIMITS): this session has none.
    const q = (text: string, values?: unknown[]) => c.query(unbounded(text, values));
    try {
      await q('SET statement_timeout = 0');
      // Several analytics processes may start at once against one empty database.
      await q('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
      const done = new Set((await q('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await q('BEGIN');
        await q(m.sql);
        await q('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
        await q('COMMIT');
      }
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await c.query('RESET statement_timeout').catch(() => undefined);
      c.release();
    }
  }

  async commit(events: ParsedEvent[]): Promise<CommitResult> {
    // Ids are scoped per client (CONTRACT.md): the dedupe key is (cliente, id).
    const withId = new Map<string, ParsedEvent>();
    const fresh: ParsedEvent[] = [];
    const dups: ParsedEvent[] = []; // known ids: for reconcile
    let duplicates = 0;
    let withoutId = 0;
    for (const e of events) {
      if (e.id === undefined) {
        withoutId++;
        fresh.push(e);
        continue;
      }
      const key = `${e.cliente}\u0000${e.id}`;
      if (withId.has(key)) {
        duplicates++;
        dups.push(e);
      } else withId.set(key, e);
    }
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      if (withId.size > 0) {
        const inserted = await this.insertIds(c, withId);
        for (const key of inserted) fresh.push(withId.get(key)!);
        duplicates += withId.size - inserted.length;
        const isNew = new Set(inserted);
        for (const [key, e] of withId) if (!isNew.has(key)) dups.push(e);
      }
      // --- reconcile (reconcile.ts): its ledger changes in this same transaction ---
      await this.reconcile.record(c, fresh, dups, Math.floor(this.now() / 1000));
      // --- end reconcile ---
      // Sorted upserts: concurrent batches lock counter rows in the same order (no deadlock).
      const groups = [...aggregate(fresh).values()].sort((a, b) =>
        a.t !== b.t
          ? a.t - b.t
          : a.cliente < b.cliente
            ? -1
            : a.cliente > b.cliente
              ? 1
              : a.evento < b.evento
                ? -1
                : 1,
      );
      if (groups.length > 0) {
        await c.query(
          'INSERT INTO counts_minute (t, cliente, evento, count) ' +
            'SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) ' +
            'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = counts_minute.count + excluded.count',
          [
            groups.map((g) => g.t),
            groups.map((g) => g.cliente),
            groups.map((g) => g.evento),
            groups.map((g) => g.n),
          ],
        );
        const totals = new Map<string, { cliente: string; evento: string; n: number }>();
        for (const g of groups) {
          const k = `${g.cliente}\u0000${g.evento}`;
          const tot = totals.get(k);
          if (tot) tot.n += g.n;
          else totals.set(k, { cliente: g.cliente, evento: g.evento, n: g.n });
        }
        const tl = [...totals.values()].sort((a, b) =>
          a.cliente < b.cliente
            ? -1
            : a.cliente > b.cliente
              ? 1
              : a.evento < b.evento
                ? -1
                : a.evento > b.evento
                  ? 1
                  : 0,
        );
        await c.query(
          'INSERT INTO totals (cliente, evento, count) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ' +
            'ON CONFLICT (cliente, evento) DO UPDATE SET count = totals.count + excluded.count',
          [tl.map((x) => x.cliente), tl.map((x) => x.evento), tl.map((x) => x.n)],
        );
        // tl is sorted by cliente, so client rows are locked in one order too.
        const clients = new Map<string, number>();
        for (const x of tl) clients.set(x.cliente, (clients.get(x.cliente) ?? 0) + x.n);
        await c.query(
          'INSERT INTO client_totals (cliente, count) SELECT * FROM unnest($1::text[], $2::bigint[]) ' +
            'ON CONFLICT (cliente) DO UPDATE SET count = client_totals.count + excluded.count',
          [[...clients.keys()], [...clients.values()]],
        );
        const series = [...perMinute(fresh)].sort((a, b) => a[0] - b[0]);
        await c.query(
          'INSERT INTO series_minute (t, count) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ' +
            'ON CONFLICT (t) DO UPDATE SET count = series_minute.count + excluded.count',
          [series.map((x) => x[0]), series.map((x) => x[1])],
        );
      }
      await c.query('COMMIT');
      c.release();
      return { counted: fresh.length, duplicates, withoutId };
    } catch (err) {
      // Destroyed, not rolled back: after a timeout the connection may be dead (a ROLLBACK would
      // wait as long again) or still busy; closing it makes the server roll the transaction back.
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /**
   * Inserts the batch's (cliente, id) pairs, skipping known ones; returns the keys inserted.
   * Sorted: two batches with overlapping ids wait on each other's inserts in one order, never in
   * a cycle (unsorted, PostgreSQL aborts one with "deadlock detected").
   */
  private async insertIds(c: pg.PoolClient, withId: Map<string, ParsedEvent>): Promise<string[]> {
    const keys = [...withId.keys()].sort();
    const arrival = Math.floor(this.now() / 1000);
    const list = keys.map((k) => withId.get(k)!);
    const res = await c.query(
      'INSERT INTO seen_ids (cliente, id, t, pub) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(c, i, t, p) ' +
        `${(await this.hasLegacyIds(c)) ? LEGACY_FILTER : ''} ON CONFLICT DO NOTHING RETURNING cliente, id`,
      [
        list.map((e) => e.cliente),
        list.map((e) => e.id),
        list.map((e) => rememberedFrom(e.ms, arrival)),
        list.map((e) => e.pub ?? null),
      ],
    );
    return (res.rows as { cliente: string; id: string }[]).map((r) => `${r.cliente}\u0000${r.id}`);
  }

  /**
   * Whether ids remembered before migration 004 (cliente '') remain; asked at most once a minute
   * while they do. None is ever added back, so once gone the question is never asked again.
   */
  private async hasLegacyIds(c: pg.PoolClient): Promise<boolean> {
    if (!this.legacy.maybe) return false;
    const now = performance.now();
    if (now - this.legacy.checkedAt >= 60_000) {
      const r = await c.query("SELECT EXISTS (SELECT 1 FROM seen_ids WHERE cliente = '') AS any");
      this.legacy = { maybe: r.rows[0].any === true, checkedAt: now };
    }
    return this.legacy.maybe;
  }

  async clientTotals(): Promise<ClientTotal[]> {
    const sql =
      'SELECT cliente, count::float8 AS count FROM client_totals ORDER BY count DESC, cliente COLLATE "C"';
    return (await this.pool.query(sql)).rows;
  }

  async clientReport(filter: Filter): Promise<ClientReport[]> {
    return groupByClient(await this.report(filter));
  }

  async report(filter: Filter): Promise<CountRow[]> {
    const params: unknown[] = [];
    let sql: string;
    if (filter.from === undefined && filter.to === undefined) {
      sql = `SELECT cliente, evento, count::float8 AS count FROM totals ${where(filter, params)}`;
    } else if (await this.mostlyInside(filter)) {
      // Totals minus what lies outside the range, reading the smaller side (types.ts).
      const keys = where({ cliente: filter.cliente, evento: filter.evento }, params);
      const out = outside(filter, params);
      const minus = LEVELS.map((tbl) => `SELECT cliente, evento, -count AS count FROM ${tbl} ${out}`);
      sql =
        `SELECT cliente, evento, SUM(count)::float8 AS count FROM (SELECT cliente, evento, count FROM totals ${keys} ` +
        `UNION ALL ${minus.join(' UNION ALL ')}) x GROUP BY cliente, evento HAVING SUM(count) <> 0`;
    } else {
      const u = unionAll('cliente, evento, count', filter, params);
      sql = `SELECT cliente, evento, SUM(count)::float8 AS count FROM (${u}) x GROUP BY cliente, evento`;
    }
    return (await this.pool.query(sql, params)).rows;
  }

  /** True when most counted events (all clients, per the series tables) lie inside the range. */
  private async mostlyInside(filter: Filter): Promise<boolean> {
    const params: unknown[] = [];
    const inside = where({ from: filter.from, to: filter.to }, params).replace('WHERE ', '');
    const u = unionSeries({}, params);
    const { rows } = await this.pool.query(
      `SELECT COALESCE(SUM(CASE WHEN ${inside} THEN count ELSE 0 END), 0)::float8 AS inside, ` +
        `COALESCE(SUM(count), 0)::float8 AS total FROM (${u}) x`,
      params,
    );
    return complementIsSmaller(Number(rows[0].inside), Number(rows[0].total));
  }

  async timeseries(filter: Filter, bucket: Bucket): Promise<Point[]> {
    const size = BUCKET_SECONDS[bucket];
    const params: unknown[] = [];
    const u =
      filter.cliente === undefined && filter.evento === undefined
        ? unionSeries(filter, params)
        : unionAll('t, count', filter, params);
    const sql = `SELECT ${floorTo(size)}::float8 AS t, SUM(count)::float8 AS count FROM (${u}) x GROUP BY 1 ORDER BY 1`;
    return (await this.pool.query(sql, params)).rows;
  }

  async *exportRows(filter: Filter, bucket: Bucket): AsyncIterable<ExportRow> {
    const size = BUCKET_SECONDS[bucket];
    const params: unknown[] = [];
    const u = unionAll('t, cliente, evento, count', filter, params);
    const sql =
      `SELECT ${floorTo(size)}::float8 AS t, cliente, evento, SUM(count)::float8 AS count FROM (${u}) x ` +
      'GROUP BY 1, 2, 3 ORDER BY 1, 2, 3';
    const c = await this.pool.connect();
    let done = false;
    try {
      // A server-side cursor: rows come in pages, never all in memory.
      await c.query('BEGIN READ ONLY');
      // A long export to a slow reader idles between pages: no limit for this transaction.
      await c.query('SET LOCAL statement_timeout = 0');
      await c.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      await c.query(`DECLARE export_cur NO SCROLL CURSOR FOR ${sql}`, params);
      for (;;) {
        const page = await c.query(unbounded('FETCH 5000 FROM export_cur'));
        for (const row of page.rows as ExportRow[]) yield row;
        if (page.rows.length < 5000) break;
      }
      await c.query('COMMIT');
      done = true;
    } finally {
      // Also when the reader stopped early (client went away): end the transaction first.
      if (!done) await c.query('ROLLBACK').catch(() => undefined);
      c.release();
    }
  }

  async version(): Promise<string | undefined> {
    // Several analytics processes commit to one database and PostgreSQL has no cheap, exact
    // "changed since" token (its statistics lag by up to a second), so reports are not cached.
    return undefined;
  }

  onChange(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
