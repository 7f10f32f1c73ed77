// The PostgreSQL driver (pg): one database shared by several analytics consumers. A pool with
// bounds on every connection, statements, transactions that destroy a failed connection, an
// export read through a server-side cursor, reads on one snapshot, and the store version every
// process shares (versions.ts).
import pg from 'pg';
import type { Change, PostgresDriver as Driver, Params, StoreOptions } from './types.js';
import { ChangeFeed, snapshotVersion } from './versions.js';

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

/** Rows an export reads per round trip. */
const PAGE = 5000;

/**
 * A query that may rightly run long (a migration, a page of a big export): its own client-side
 * timeout of a day (pg reads query_timeout per query, though its types omit it, and has no "none").
 */
export function unbounded(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: 24 * 3600_000 } as pg.QueryConfig;
}

/** Releases a client that failed: destroyed, so the server rolls back whatever it left open. */
export function destroy(c: pg.PoolClient, err: unknown): void {
  c.release(err instanceof Error ? err : new Error(String(err)));
}

export class PostgresDriver implements Driver {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly now: () => number;
  /** The store version and the commits of every process on this database (versions.ts). */
  readonly feed: ChangeFeed;

  constructor(url: string, opts: StoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    // DATABASE_URL parameters of the same names override PG_LIMITS (pg reads them from the URL).
    this.pool = new pg.Pool({ ...PG_LIMITS, connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
    // A client losing its server (PostgreSQL restarted) must not crash the process: idle clients
    // report on the pool, checked-out ones on the client itself. The query in flight still
    // rejects, so the consumer backs off and retries its batch (DESIGN.md).
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.feed = new ChangeFeed(this.pool);
  }

  async all<T>(sql: string, p: Params): Promise<T[]> {
    return (await this.pool.query(sql, p.values as unknown[])).rows as T[];
  }

  async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      c.release();
      return out;
    } catch (err) {
      destroy(c, err);
      throw err;
    }
  }

  async *stream<T>(sql: string, p: Params): AsyncIterable<T> {
    const c = await this.pool.connect();
    let done = false;
    try {
      // A server-side cursor: rows come in pages, never all in memory.
      await c.query('BEGIN READ ONLY');
      // A long export to a slow reader idles between pages: no limit for this transaction.
      await c.query('SET LOCAL statement_timeout = 0');
      await c.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      await c.query(`DECLARE export_cur NO SCROLL CURSOR FOR ${sql}`, p.values as unknown[]);
      for (;;) {
        const page = await c.query(unbounded(`FETCH ${PAGE} FROM export_cur`));
        for (const row of page.rows as T[]) yield row;
        if (page.rows.length < PAGE) break;
      }
      await c.query('COMMIT');
      done = true;
    } finally {
      // Also when the reader stopped early (client went away): end the transaction first.
      if (!done) await c.query('ROLLBACK').catch(() => undefined);
      c.release();
    }
  }

  async snapshot<T>(fn: (d: Driver) => Promise<T>): Promise<{ value: T; at: string }> {
    const c = await this.pool.connect();
    try {
      // REPEATABLE READ: every statement sees the snapshot the first one took, which reads the
      // version, so the answer is exactly the store at that version (versions.ts).
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const at = await snapshotVersion(c);
      // This driver with its statements on the snapshot's connection; the rest is shared.
      const onSnapshot = Object.create(this, {
        all: { value: async (sql: string, p: Params) => (await c.query(sql, p.values as unknown[])).rows },
      }) as Driver;
      const value = await fn(onSnapshot);
      await c.query('COMMIT');
      c.release();
      return { value, at };
    } catch (err) {
      destroy(c, err);
      throw err;
    }
  }

  version(): Promise<string> {
    return this.feed.version();
  }

  onChange(listener: (change: Change) => void): () => void {
    return this.feed.onChange(listener);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
