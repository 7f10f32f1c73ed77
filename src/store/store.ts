// The Store, written once over either driver: each operation is its own module (migrate.ts,
// commit.ts, report.ts, timeseries.ts, export.ts), which picks its dialect's statements.

import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { ParsedEvent } from '../event.js';
import { type Alerts, alerts } from './alerts.js';
import { type Committer, committer } from './commit.js';
import { DayUnions } from './day-unions.js';
import { exportRows } from './export.js';
import { migrate } from './migrate.js';
import { PostgresDriver } from './postgres.js';
import { ledger, type Reconcile } from './reconcile.js';
import { clientReport, clientTotals, report } from './report.js';
import { SqliteDriver } from './sqlite.js';
import { timeseries } from './timeseries.js';
import type {
  Bucket,
  Change,
  ClientReport,
  ClientTotal,
  CommitResult,
  CountRow,
  Driver,
  ExportRow,
  Filter,
  Point,
  Store,
  StoreOptions,
  Uniques,
  UniquesExportRow,
} from './types.js';
import { clientUniques, exportUniques, uniques } from './uniques.js';
import { clientUniquesByDays, uniquesByDays } from './uniques-days.js';

export class SqlStore<D extends Driver = Driver> implements Store {
  readonly kind: D['kind'];
  private commitBatch: Committer | undefined;
  /** Reconcile's ledger (reconcile.ts); its commit side is in commit.ts. */
  readonly reconcile: Reconcile;
  /** Alert rules, their episodes and firings (alerts.ts); last arrivals are written by commit.ts. */
  readonly alerts: Alerts;
  constructor(
    readonly driver: D,
    /** Whole days' unions of user sketches, checked against the days' counts (uniques-days.ts). */
    readonly dayUnions = new DayUnions(),
  ) {
    this.kind = driver.kind;
    this.reconcile = ledger(driver);
    this.alerts = alerts(driver);
  }

  async migrate(): Promise<void> {
    await migrate(this.driver);
    this.commitBatch = committer(this.driver);
  }

  commit(events: ParsedEvent[]): Promise<CommitResult> {
    // SQLite prepares its statements once the tables exist; PostgreSQL needs nothing prepared, so
    // a store on a database another process migrated commits at once.
    if (!this.commitBatch && this.driver.kind === 'postgres') this.commitBatch = committer(this.driver);
    if (!this.commitBatch) return Promise.reject(new Error('store not migrated: call migrate() first'));
    return this.commitBatch(events);
  }

  report(filter: Filter): Promise<CountRow[]> {
    return report(this.driver, filter);
  }

  async clientReport(filter: Filter): Promise<ClientReport[]> {
    const lines = await clientReport(this.driver, filter);
    // Only clients whose events carry a usuario have sketches (and so a usuarios figure).
    const users = await this.clientUniques(filter);
    if (users.size === 0) return lines;
    return lines.map((l) => {
      const n = users.get(l.cliente);
      return n === undefined ? l : { ...l, usuarios: n };
    });
  }

  clientTotals(): Promise<ClientTotal[]> {
    return clientTotals(this.driver);
  }

  timeseries(filter: Filter, bucket: Bucket): Promise<Point[]> {
    return timeseries(this.driver, filter, bucket);
  }

  async uniques(filter: Filter, bucket?: Bucket): Promise<Uniques> {
    // Hour and minute points need every row of their bucket read anyway, and the total is the
    // union of those same rows: day unions would save nothing there.
    if (bucket === undefined || bucket === 'day') {
      const byDays = await uniquesByDays(this.driver, filter, this.dayUnions, bucket);
      if (byDays) return byDays;
    }
    return uniques(this.driver, filter, bucket);
  }

  async clientUniques(filter: Filter): Promise<Map<string, number>> {
    return (
      (await clientUniquesByDays(this.driver, filter, this.dayUnions)) ?? clientUniques(this.driver, filter)
    );
  }

  exportRows(filter: Filter, bucket: Bucket): AsyncIterable<ExportRow> {
    return exportRows(this.driver, filter, bucket);
  }

  exportUniques(filter: Filter, bucket: Bucket): AsyncIterable<UniquesExportRow> {
    return exportUniques(this.driver, filter, bucket);
  }

  async version(): Promise<string | undefined> {
    return this.driver.version();
  }

  onChange(listener: (change: Change) => void): () => void {
    return this.driver.onChange(listener);
  }

  async read<T>(fn: (s: Store) => Promise<T>): Promise<{ value: T; at: string | undefined }> {
    if (this.driver.kind === 'postgres') {
      return this.driver.snapshot((d) => fn(new SqlStore(d, this.dayUnions)));
    }
    // SQLite: its version moves with every change to the file, so when the versions read before
    // and after agree, nothing changed in between and every statement saw that version.
    const before = await this.version();
    const value = await fn(this);
    const after = await this.version();
    return { value, at: before !== undefined && before === after ? before : undefined };
  }

  ping(): Promise<void> {
    return this.driver.ping();
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/** Reconcile's ledger of a store; undefined for a store that keeps none. */
export function reconcileOf(store: Store): Reconcile | undefined {
  return store instanceof SqlStore ? store.reconcile : undefined;
}

/** The alerts of a store; undefined for a store that keeps none. */
export function alertsOf(store: Store): Alerts | undefined {
  return store instanceof SqlStore ? store.alerts : undefined;
}

/** The SQLite store: a file, one consumer (the default). */
export class SqliteStore extends SqlStore<SqliteDriver> {
  constructor(path: string, opts: StoreOptions = {}) {
    super(new SqliteDriver(path, opts));
  }

  get db(): Database.Database {
    return this.driver.db;
  }

  get path(): string {
    return this.driver.path;
  }
}

/** The PostgreSQL store: one database shared by several analytics consumers. */
export class PostgresStore extends SqlStore<PostgresDriver> {
  constructor(url: string, opts: StoreOptions = {}) {
    super(new PostgresDriver(url, opts));
  }

  get pool(): pg.Pool {
    return this.driver.pool;
  }
}
