// The SQLite driver (better-sqlite3, WAL): the single-consumer default. Opens the file durably,
// runs statements and IMMEDIATE transactions, streams an export on a connection of its own, and
// tells the report cache about this connection's commits (onChange, version).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { named } from './sql.js';
import type { Change, SqliteDriver as Driver, Params, StoreOptions } from './types.js';

export class SqliteDriver implements Driver {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  readonly now: () => number;
  private totalChanges: Database.Statement | undefined;
  private dataVersion: Database.Statement | undefined;
  private readonly listeners = new Set<(change: Change) => void>();

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

  async all<T>(sql: string, p: Params): Promise<T[]> {
    return this.db.prepare(sql).all(named(p)) as T[];
  }

  immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    const tx = this.db.transaction(fn);
    return (...args: A) => tx.immediate(...args);
  }

  async *stream<T>(sql: string, p: Params): AsyncIterable<T> {
    // A connection of its own: an open iterator keeps its connection busy, and the consumer's
    // commits must not wait for an export. WAL lets this reader see one consistent snapshot.
    const reader = this.path === ':memory:' ? this.db : new Database(this.path, { readonly: true });
    reader.pragma('busy_timeout = 10000');
    let n = 0;
    try {
      for (const row of reader.prepare(sql).iterate(named(p)) as Iterable<T>) {
        yield row;
        // Let the event loop breathe on long exports (the consumer shares this thread).
        if (++n % 5000 === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      if (reader !== this.db) reader.close();
    }
  }

  version(): string {
    // data_version moves when ANOTHER connection commits; total_changes() counts the rows this
    // connection changed (the consumer's commits and the rollups run on it). Together they move
    // on every change to the file.
    this.dataVersion ??= this.db.prepare('PRAGMA data_version').pluck();
    this.totalChanges ??= this.db.prepare('SELECT total_changes() AS n').pluck();
    const other = this.dataVersion.get() as number;
    const own = this.totalChanges.get() as number;
    return `${other}.${own}`;
  }

  onChange(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  watched(): boolean {
    return this.listeners.size > 0;
  }

  changed(change: Change): void {
    // Called only once committed: a transaction that threw changed nothing a listener may count.
    // A listener's failure is its own: the commit happened, and the caller must ack it.
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // the cache entry it was updating is left behind its version and computed again
      }
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
