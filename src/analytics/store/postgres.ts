// PostgreSQL store (pg): one database shared by several analytics consumers. Dedupe and counter
// updates commit together; two batches touching one counter row serialise on its row lock, and
// the unique key on ids settles races on the same id (DESIGN.md, "Scale-out").
import pg from 'pg';
import type { ParsedEvent } from '../../event.js';
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

  constructor(url: string, opts: StoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
    // A client losing its server (PostgreSQL restarted) must not crash the process: idle clients
    // report on the pool, checked-out ones on the client itself. The query in flight still
    // rejects, so the consumer backs off and retries its batch (DESIGN.md).
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  async migrate(): Promise<void> {
    const migrations = await readMigrations('postgres');
    const c = await this.pool.connect();
    try {
      // Several analytics processes may start at once against one empty database.
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
      const done = new Set(
        (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
        await c.query('COMMIT');
      }
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      c.release();
    }
  }

  async commit(events: ParsedEvent[]): Promise<CommitResult> {
    const withId = new Map<string, ParsedEvent>();
    const fresh: ParsedEvent[] = [];
    let duplicates = 0;
    let withoutId = 0;
    for (const e of events) {
      if (e.id === undefined) {
        withoutId++;
        fresh.push(e);
      } else if (withId.has(e.id)) duplicates++;
      else withId.set(e.id, e);
    }
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      if (withId.size > 0) {
        // Sorted: two batches with overlapping ids wait on each other's inserts in one order,
        // never in a cycle (unsorted, PostgreSQL aborts one with "deadlock detected").
        const ids = [...withId.keys()].sort();
        const arrival = Math.floor(this.now() / 1000);
        const ts = ids.map((id) => rememberedFrom(withId.get(id)!.ms, arrival));
        const res = await c.query(
          'INSERT INTO seen_ids (id, t) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING id',
          [ids, ts],
        );
        for (const row of res.rows as { id: string }[]) fresh.push(withId.get(row.id)!);
        duplicates += withId.size - res.rowCount!;
      }
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
      return { counted: fresh.length, duplicates, withoutId };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
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
      await c.query(`DECLARE export_cur NO SCROLL CURSOR FOR ${sql}`, params);
      for (;;) {
        const page = await c.query('FETCH 5000 FROM export_cur');
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
