// SQLite store (better-sqlite3, WAL): the single-consumer default.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ParsedEvent } from '../../event.js';
import { SqliteReconcile } from './reconcile.js';
import {
  aggregate,
  BUCKET_SECONDS,
  type Bucket,
  type Change,
  type ClientReport,
  type ClientTotal,
  type CommitResult,
  type CountRow,
  complementIsSmaller,
  type ExportRow,
  type Filter,
  floorTo,
  type Point,
  perMinute,
  readMigrations,
  rememberedFrom,
  type Store,
  type StoreOptions,
} from './types.js';

const LEVELS = ['counts_minute', 'counts_hour', 'counts_day'] as const;
const SERIES = ['series_minute', 'series_hour', 'series_day'] as const;

export function where(filter: Filter): { sql: string; params: Record<string, unknown> } {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.from !== undefined) {
    parts.push('t >= @from');
    params.from = filter.from;
  }
  if (filter.to !== undefined) {
    parts.push('t < @to');
    params.to = filter.to;
  }
  if (filter.cliente !== undefined) {
    parts.push('cliente = @cliente');
    params.cliente = filter.cliente;
  }
  if (filter.evento !== undefined) {
    parts.push('evento = @evento');
    params.evento = filter.evento;
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** Rows outside the filter's range (it has a `from`, a `to` or both), of its cliente/evento. */
function outside(filter: Filter): { sql: string; params: Record<string, unknown> } {
  const sides: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.from !== undefined) {
    sides.push('t < @from');
    params.from = filter.from;
  }
  if (filter.to !== undefined) {
    sides.push('t >= @to');
    params.to = filter.to;
  }
  const keys = where({ cliente: filter.cliente, evento: filter.evento });
  const cond = `(${sides.join(' OR ')})`;
  return {
    sql: keys.sql ? `${keys.sql} AND ${cond}` : `WHERE ${cond}`,
    params: { ...params, ...keys.params },
  };
}

function unionAll(cols: string, filter: Filter): { sql: string; params: Record<string, unknown> } {
  const w = where(filter);
  return {
    sql: LEVELS.map((tbl) => `SELECT ${cols} FROM ${tbl} ${w.sql}`).join(' UNION ALL '),
    params: w.params,
  };
}

/** The per-bucket totals of every level (no cliente/evento filter), skipping rows moved up to 0. */
function unionSeries(filter: Filter): { sql: string; params: Record<string, unknown> } {
  const w = where({ from: filter.from, to: filter.to });
  const cond = w.sql ? `${w.sql} AND count <> 0` : 'WHERE count <> 0';
  return {
    sql: SERIES.map((tbl) => `SELECT t, count FROM ${tbl} ${cond}`).join(' UNION ALL '),
    params: w.params,
  };
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  private stmts: ReturnType<SqliteStore['prepare']> | undefined;
  private totalChanges: Database.Statement | undefined;
  private dataVersion: Database.Statement | undefined;
  private readonly listeners = new Set<(change: Change) => void>();
  /** Reconcile's ledger (reconcile.ts); set by migrate(). */
  reconcile: SqliteReconcile | undefined;

  private readonly now: () => number;

  constructor(
    readonly path: string,
    opts: StoreOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    if (opts.readonly) {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 10000');
      return;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: the consumer acks a batch as soon as its commit returns, and the broker
    // then forgets it. In WAL mode NORMAL syncs only at checkpoints, so an OS crash or a power
    // loss could roll back commits that were already acked: those events would be lost. FULL
    // syncs the WAL on every commit (https://www.sqlite.org/pragma.html#pragma_synchronous);
    // batching keeps that to one sync per batch (BENCHMARKS.md, "Durable commits").
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
  }

  async migrate(): Promise<void> {
    const migrations = await readMigrations('sqlite');
    // BEGIN IMMEDIATE takes the write lock first, so processes starting together take turns.
    this.db.exec('BEGIN IMMEDIATE');
    try {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
      const done = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
          (r) => r.version,
        ),
      );
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(m.version);
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    this.stmts = this.prepare();
    this.reconcile = new SqliteReconcile(this.db);
  }

  private prepare() {
    const db = this.db;
    const insertId = db.prepare(
      'INSERT INTO seen_ids (cliente, id, t, pub) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    // Ids remembered before ids were scoped per client (migration 004) are kept under cliente ''
    // and stay known for every client until the dedupe window forgets them.
    const anyLegacy = db.prepare("SELECT EXISTS (SELECT 1 FROM seen_ids WHERE cliente = '')").pluck();
    const legacyId = db.prepare("SELECT 1 FROM seen_ids WHERE cliente = '' AND id = ?").pluck();
    let legacy = true;
    const known = (cliente: string, id: string, t: number, pub: string | null): boolean =>
      (legacy && legacyId.get(id) !== undefined) || insertId.run(cliente, id, t, pub).changes === 0;
    const upsertMinute = db.prepare(
      'INSERT INTO counts_minute (t, cliente, evento, count) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = count + excluded.count',
    );
    const upsertTotal = db.prepare(
      'INSERT INTO totals (cliente, evento, count) VALUES (?, ?, ?) ' +
        'ON CONFLICT (cliente, evento) DO UPDATE SET count = count + excluded.count',
    );
    const upsertClient = db.prepare(
      'INSERT INTO client_totals (cliente, count) VALUES (?, ?) ' +
        'ON CONFLICT (cliente) DO UPDATE SET count = count + excluded.count',
    );
    const upsertSeries = db.prepare(
      'INSERT INTO series_minute (t, count) VALUES (?, ?) ON CONFLICT (t) DO UPDATE SET count = count + excluded.count',
    );
    const commit = db.transaction((events: ParsedEvent[]) => {
      // Read inside the transaction, which holds the write lock: no other connection commits
      // between these two reads, so the change is exactly this transaction's.
      const before = this.listeners.size > 0 ? this.versionNow() : undefined;
      const arrival = Math.floor(this.now() / 1000);
      // Checked once per batch while old ids remain (one index probe); none are ever added back.
      if (legacy) legacy = anyLegacy.get() === 1;
      const fresh: ParsedEvent[] = [];
      const dups: ParsedEvent[] = [];
      let withoutId = 0;
      for (const e of events) {
        if (e.id === undefined) {
          withoutId++;
          fresh.push(e);
        } else if (known(e.cliente, e.id, rememberedFrom(e.ms, arrival), e.pub ?? null)) dups.push(e);
        else fresh.push(e);
      }
      const duplicates = dups.length;
      // --- reconcile (reconcile.ts): its ledger changes in this same transaction ---
      this.reconcile?.record(fresh, dups, arrival);
      // --- end reconcile ---
      const totals = new Map<string, { cliente: string; evento: string; n: number }>();
      const groups = aggregate(fresh);
      for (const g of groups.values()) {
        upsertMinute.run(g.t, g.cliente, g.evento, g.n);
        const k = `${g.cliente}\u0000${g.evento}`;
        const tot = totals.get(k);
        if (tot) tot.n += g.n;
        else totals.set(k, { cliente: g.cliente, evento: g.evento, n: g.n });
      }
      const clients = new Map<string, number>();
      for (const tot of totals.values()) {
        upsertTotal.run(tot.cliente, tot.evento, tot.n);
        clients.set(tot.cliente, (clients.get(tot.cliente) ?? 0) + tot.n);
      }
      for (const [cliente, n] of clients) upsertClient.run(cliente, n);
      for (const [t, n] of perMinute(fresh)) upsertSeries.run(t, n);
      const result: CommitResult = { counted: fresh.length, duplicates, withoutId };
      const change: Change | undefined =
        before !== undefined && fresh.length > 0
          ? { before, after: this.versionNow(), groups: [...groups.values()] }
          : undefined;
      return { result, change };
    });
    return { commit };
  }

  async commit(events: ParsedEvent[]): Promise<CommitResult> {
    if (!this.stmts) throw new Error('store not migrated');
    const { result, change } = this.stmts.commit.immediate(events);
    // Only once committed: a transaction that threw changed nothing a listener may count. A
    // listener's failure is its own: the commit happened, and the caller must ack it.
    if (change) {
      for (const l of this.listeners) {
        try {
          l(change);
        } catch {
          // the cache entry it was updating is left behind its version and computed again
        }
      }
    }
    return result;
  }

  onChange(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async clientTotals(): Promise<ClientTotal[]> {
    return this.db
      .prepare('SELECT cliente, count FROM client_totals ORDER BY count DESC, cliente')
      .all() as ClientTotal[];
  }

  async report(filter: Filter): Promise<CountRow[]> {
    if (filter.from === undefined && filter.to === undefined) {
      const w = where(filter);
      return this.db
        .prepare(`SELECT cliente, evento, count FROM totals ${w.sql}`)
        .all(w.params) as CountRow[];
    }
    if (this.mostlyInside(filter)) {
      // Totals minus what lies outside the range (DESIGN.md: the totals are the sum of every
      // level, kept in the same transactions), reading the smaller side of the range.
      const keys = where({ cliente: filter.cliente, evento: filter.evento });
      const out = outside(filter);
      const minus = LEVELS.map((tbl) => `SELECT cliente, evento, -count AS count FROM ${tbl} ${out.sql}`);
      return this.db
        .prepare(
          `SELECT cliente, evento, SUM(count) AS count FROM (SELECT cliente, evento, count FROM totals ${keys.sql} ` +
            `UNION ALL ${minus.join(' UNION ALL ')}) GROUP BY cliente, evento HAVING SUM(count) <> 0`,
        )
        .all({ ...keys.params, ...out.params }) as CountRow[];
    }
    const u = unionAll('cliente, evento, count', filter);
    return this.db
      .prepare(`SELECT cliente, evento, SUM(count) AS count FROM (${u.sql}) GROUP BY cliente, evento`)
      .all(u.params) as CountRow[];
  }

  async clientReport(filter: Filter): Promise<ClientReport[]> {
    // Grouped per client in SQL, each client's events as one JSON text: 10,000 clients come back
    // as 10,000 rows instead of 200,000 (cliente, evento) rows, the slow part of a big report.
    const perClient = (rows: string) =>
      'SELECT cliente, SUM(count) AS total, ' +
      `json_group_object(evento, count ORDER BY count DESC, evento) AS eventos FROM (${rows}) ` +
      'WHERE count <> 0 GROUP BY cliente';
    if (filter.from === undefined && filter.to === undefined) {
      const w = where(filter);
      return this.db
        .prepare(perClient(`SELECT cliente, evento, count FROM totals ${w.sql}`))
        .all(w.params) as ClientReport[];
    }
    if (this.mostlyInside(filter)) {
      // Totals minus what lies outside the range, as in report(); the totals are read in key
      // order and joined to the (few) outside sums, so nothing big is sorted.
      const keys = where({ cliente: filter.cliente, evento: filter.evento });
      const out = outside(filter);
      const outRows = LEVELS.map((tbl) => `SELECT cliente, evento, count FROM ${tbl} ${out.sql}`).join(
        ' UNION ALL ',
      );
      const rows =
        'SELECT t.cliente AS cliente, t.evento AS evento, t.count - COALESCE(o.n, 0) AS count ' +
        `FROM (SELECT cliente, evento, count FROM totals ${keys.sql}) t LEFT JOIN ` +
        `(SELECT cliente, evento, SUM(count) AS n FROM (${outRows}) GROUP BY cliente, evento) o ` +
        'ON o.cliente = t.cliente AND o.evento = t.evento';
      return this.db.prepare(perClient(rows)).all({ ...keys.params, ...out.params }) as ClientReport[];
    }
    const u = unionAll('cliente, evento, count', filter);
    return this.db
      .prepare(
        perClient(`SELECT cliente, evento, SUM(count) AS count FROM (${u.sql}) GROUP BY cliente, evento`),
      )
      .all(u.params) as ClientReport[];
  }

  /** True when most counted events (all clients, per the series tables) lie inside the range. */
  private mostlyInside(filter: Filter): boolean {
    const inside = where({ from: filter.from, to: filter.to });
    const u = unionSeries({});
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(CASE WHEN ${inside.sql.replace('WHERE ', '')} THEN count ELSE 0 END), 0) AS inside, ` +
          `COALESCE(SUM(count), 0) AS total FROM (${u.sql})`,
      )
      .get({ ...inside.params, ...u.params }) as { inside: number; total: number };
    return complementIsSmaller(r.inside, r.total);
  }

  async timeseries(filter: Filter, bucket: Bucket): Promise<Point[]> {
    const size = BUCKET_SECONDS[bucket];
    const u =
      filter.cliente === undefined && filter.evento === undefined
        ? unionSeries(filter)
        : unionAll('t, count', filter);
    return this.db
      .prepare(`SELECT ${floorTo(size)} AS t, SUM(count) AS count FROM (${u.sql}) GROUP BY 1 ORDER BY 1`)
      .all(u.params) as Point[];
  }

  async *exportRows(filter: Filter, bucket: Bucket): AsyncIterable<ExportRow> {
    const size = BUCKET_SECONDS[bucket];
    const u = unionAll('t, cliente, evento, count', filter);
    // A connection of its own: an open iterator keeps its connection busy, and the consumer's
    // commits must not wait for an export. WAL lets this reader see one consistent snapshot.
    const reader = this.path === ':memory:' ? this.db : new Database(this.path, { readonly: true });
    reader.pragma('busy_timeout = 10000');
    const stmt = reader.prepare(
      `SELECT ${floorTo(size)} AS t, cliente, evento, SUM(count) AS count FROM (${u.sql}) ` +
        'GROUP BY 1, 2, 3 ORDER BY 1, 2, 3',
    );
    let n = 0;
    try {
      for (const row of stmt.iterate(u.params) as Iterable<ExportRow>) {
        yield row;
        // Let the event loop breathe on long exports (the consumer shares this thread).
        if (++n % 5000 === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      if (reader !== this.db) reader.close();
    }
  }

  async version(): Promise<string | undefined> {
    return this.versionNow();
  }

  private versionNow(): string {
    // data_version moves when ANOTHER connection commits; total_changes() counts the rows this
    // connection changed (the consumer's commits and the rollups run on it). Together they move
    // on every change to the file.
    this.dataVersion ??= this.db.prepare('PRAGMA data_version').pluck();
    this.totalChanges ??= this.db.prepare('SELECT total_changes() AS n').pluck();
    const other = this.dataVersion.get() as number;
    const own = this.totalChanges.get() as number;
    return `${other}.${own}`;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
