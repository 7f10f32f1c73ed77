// The store's types: what the consumer, the API and the commands see (Store), and what the
// operation modules need of a driver (Driver). Types only: the logic is in the operation modules.
// Times are epoch seconds (UTC).
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { ParsedEvent } from '../event.js';

export type Dialect = 'sqlite' | 'postgres';

/** The values of one statement's placeholders, in order (sql.ts params() writes the placeholders). */
export interface Params {
  readonly dialect: Dialect;
  readonly values: readonly unknown[];
  /** Binds v; returns its placeholder, to be written into the statement. */
  add(v: unknown): string;
}
export type Bucket = 'minute' | 'hour' | 'day';
/** A level that rolls up into the next coarser one (minute → hour, hour → day). */
export type RollLevel = 'minute' | 'hour';

export interface CommitResult {
  /** Events counted by this commit (new ids, and events without an id). */
  counted: number;
  /** Events whose id was already known: nothing changed for them. */
  duplicates: number;
  /** Events counted without deduplication (no id and no AMQP message_id). */
  withoutId: number;
}

/** Events counted by one commit, per (minute of event time, cliente, evento). */
export interface CountedGroup {
  /** Start of the minute, epoch seconds. */
  t: number;
  cliente: string;
  evento: string;
  n: number;
  /**
   * How many of the n carry a usuario (absent when none): a view that shows distinct users
   * cannot add these (which users were new is known only to the sketch), so it is computed again.
   */
  users?: number;
}

/**
 * One commit of this store object, between two versions (Store.version) read inside its
 * transaction: nothing else changed the counters between `before` and `after`.
 */
export interface Change {
  before: string;
  after: string;
  groups: readonly CountedGroup[];
}

export interface Filter {
  from?: number;
  to?: number;
  cliente?: string;
  evento?: string;
}

export interface CountRow {
  cliente: string;
  evento: string;
  count: number;
}

/** One client's line of a report: its total and its events as a JSON object, largest first. */
export interface ClientReport {
  cliente: string;
  total: number;
  /** `{"click":10,"view":3}`: counts by event, largest first, then by name; no zero counts. */
  eventos: string;
  /** Distinct users (usuario) in the range; absent when none of its events carries one. */
  usuarios?: number;
}

export interface ClientTotal {
  cliente: string;
  count: number;
}

export interface Point {
  t: number;
  count: number;
}

export interface Uniques {
  /** Distinct users in the range. */
  usuarios: number;
  /** Per bucket (start, epoch seconds), oldest first, when a bucket was asked for. */
  points?: { t: number; usuarios: number }[];
}

export interface ExportRow extends CountRow {
  t: number;
}

/** One line of the users export: distinct users of one client in one bucket. */
export interface UniquesExportRow {
  t: number;
  cliente: string;
  usuarios: number;
}

export interface StoreOptions {
  /** The clock (epoch ms) for arrival times; tests and simulations inject one. */
  now?: () => number;
  /** SQLite only: open an existing file read-only (export), never create or migrate it. */
  readonly?: boolean;
}

export interface Store {
  readonly kind: Dialect;
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Records new ids and counts them in ONE transaction; known ids change nothing. */
  commit(events: ParsedEvent[]): Promise<CommitResult>;
  /** Counts per (cliente, evento) in a range, or all time when the filter has no range. */
  report(filter: Filter): Promise<CountRow[]>;
  /** The same counts as report(), one line per client (what /api/v1/report lists), in any order. */
  clientReport(filter: Filter): Promise<ClientReport[]>;
  /** All-time totals per client, largest first (what /reporte shows). */
  clientTotals(): Promise<ClientTotal[]>;
  timeseries(filter: Filter, bucket: Bucket): Promise<Point[]>;
  /**
   * Distinct usuario values matching the filter (every client's users, each scoped by its
   * client), and per bucket when one is given; estimated from the stored sketches (hll.ts).
   */
  uniques(filter: Filter, bucket?: Bucket): Promise<Uniques>;
  /** Distinct users per client matching the filter; clients without any are left out. */
  clientUniques(filter: Filter): Promise<Map<string, number>>;
  /**
   * A token that changes whenever any counter changes (a commit, a rollup; by this process or
   * another one), so an answer computed at one version can be served again while it holds; or
   * undefined when the store cannot tell cheaply (then nothing is cached).
   */
  version(): Promise<string | undefined>;
  /**
   * Calls listener with the versions around each commit that counted something, in version
   * order; returns the unsubscribe. SQLite: the commits of this store object, as they return.
   * PostgreSQL: also every other process's commits (versions.ts), told when version() is next
   * called, before it returns. A commit that is not told (another connection's on SQLite, one
   * too far behind on PostgreSQL) and a rollup break the chain: answers are computed again.
   */
  onChange(listener: (change: Change) => void): () => void;
  /**
   * Runs fn on one consistent view of the store and says the version it saw (undefined when it
   * cannot be told: on SQLite, a change came between the versions read around fn).
   */
  read<T>(fn: (s: Store) => Promise<T>): Promise<{ value: T; at: string | undefined }>;
  /** Streams counters per (cliente, evento, bucket), ordered by bucket, without loading them all. */
  exportRows(filter: Filter, bucket: Bucket): AsyncIterable<ExportRow>;
  /** Distinct users per (bucket, cliente), streamed like exportRows; by bucket, then client. */
  exportUniques(filter: Filter, bucket: Bucket): AsyncIterable<UniquesExportRow>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What pruning and a replay know about forgotten ids. Pruning forgets ids remembered from before
 * its cutoff and, in the same transaction, raises `horizon` to that cutoff: an id is remembered
 * from the later of its event time and its arrival (tables.ts rememberedFrom), so an event whose
 * time is at or after the horizon cannot have been forgotten, and one before it may have been.
 */
export interface DedupeHorizon {
  /** Epoch seconds; undefined when no id was ever forgotten. */
  horizon: number | undefined;
  /** Nothing is counted (a new or wiped store): a replay cannot count anything twice. */
  empty: boolean;
}

/** Work done while holding the retention lock; every call is its own short transaction. */
export interface MaintenanceSession {
  /** The newest remembered-id time (seen_ids.t) not after `notAfter`, or undefined when none. */
  newestIdTime(notAfter: number): Promise<number | undefined>;
  /**
   * Forgets up to `limit` ids remembered from before `before` and raises the dedupe horizon to
   * `before`, in one transaction; returns how many it forgot. Forgets nothing while a replay holds
   * pruning (held_until after `now`).
   */
  pruneIds(before: number, limit: number, now: number): Promise<number>;
  /** The oldest bucket start of `level` in [after, before), or undefined when there is none. */
  oldestBucket(level: RollLevel, after: number, before: number): Promise<number | undefined>;
  /**
   * Moves up to `limit` rows of `level` with start in [start, end) into the coarser level, in ONE
   * transaction (delete them, add their counts to the coarser rows): every count stays in exactly
   * one level, so no total or range sum changes. Returns how many rows it moved.
   */
  rollUp(level: RollLevel, start: number, end: number, limit: number): Promise<number>;
}

/** Retention's view of a store, kept apart from Store (which the consumer and the API use). */
export interface Maintenance {
  /**
   * Runs fn while holding the retention lock (one runner at a time); resolves to undefined without
   * running it when another runner holds the lock.
   */
  exclusive<T>(fn: (s: MaintenanceSession) => Promise<T>): Promise<T | undefined>;
  /** Earliest and latest bucket start matching the filter over all levels (for progress bars). */
  span(filter: Filter): Promise<{ min: number; max: number } | undefined>;
  /** The dedupe horizon and whether the store holds any count. */
  horizon(): Promise<DedupeHorizon>;
  /**
   * The same, read in one transaction with holding pruning of ids until `until` (epoch seconds):
   * no id is forgotten before then, so an event at or after the horizon read here stays
   * remembered, and a replay of it cannot count it again (`warren replay`).
   */
  holdPruning(until: number): Promise<DedupeHorizon>;
  /** Rows per level and remembered ids (for `warren prune` and the benchmarks). */
  sizes(): Promise<Record<'seen_ids' | 'counts_minute' | 'counts_hour' | 'counts_day', number>>;
}

/** What every driver offers the operation modules (sqlite.ts, postgres.ts). */
interface DriverBase {
  readonly kind: Dialect;
  /** The clock (epoch ms) for arrival times. */
  now(): number;
  /** Runs one statement on its own (autocommit) and returns its rows. */
  all<T>(sql: string, params: Params): Promise<T[]>;
  /** Runs one statement, yielding its rows a page at a time (an export), without loading them all. */
  stream<T>(sql: string, params: Params): AsyncIterable<T>;
  /** See Store.version and Store.onChange. */
  version(): string | undefined | Promise<string | undefined>;
  onChange(listener: (change: Change) => void): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SqliteDriver extends DriverBase {
  readonly kind: 'sqlite';
  readonly db: Database.Database;
  readonly path: string;
  /** Always known: this connection's and the others' commits (sqlite.ts). */
  version(): string;
  /** fn as one IMMEDIATE transaction: the write lock first, so writers take turns, never deadlock. */
  immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  /** Someone listens to onChange: a commit reads the versions around it. */
  watched(): boolean;
  /** Tells the listeners of a commit that counted something. */
  changed(change: Change): void;
}

export interface PostgresDriver extends DriverBase {
  readonly kind: 'postgres';
  readonly pool: pg.Pool;
  /**
   * fn inside BEGIN … COMMIT on one pooled connection. A failure destroys the connection instead
   * of rolling back: after a timeout it may be dead (a ROLLBACK would wait as long again) or still
   * busy; closing it makes the server roll the transaction back.
   */
  transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  /** One round trip: the store version, after telling onChange listeners the commits before it. */
  version(): Promise<string>;
  /** Where this process's commits are told to onChange listeners (versions.ts ChangeFeed). */
  readonly feed: { committed(version: number, groups: readonly CountedGroup[]): void };
  /**
   * fn with a driver whose statements all read one snapshot (a REPEATABLE READ READ ONLY
   * transaction on one connection), and the store version of that snapshot.
   */
  snapshot<T>(fn: (d: PostgresDriver) => Promise<T>): Promise<{ value: T; at: string }>;
}

export type Driver = SqliteDriver | PostgresDriver;
