// Reads that cannot stall counting, nor hang. better-sqlite3 is synchronous: a report computed on
// the consumer's thread holds every commit, ack and stream message behind it (a cold 24 h report
// over a big store takes about 0.4 s). So SQLite reports run in read worker processes, each with
// its own read-only connection (WAL: readers never wait for the writer, nor it for them;
// read-process.ts). PostgreSQL is already asynchronous; its reads run on a pool of their own, so
// the commits keep the store's pool. Either way at most READ_CONCURRENCY reports are computed at
// once and READ_QUEUE more wait; the next one gets 503 with Retry-After instead of a growing
// queue. And none computes for longer than READ_TIMEOUT_MS: past it the answer is 503
// read_timeout and the work is stopped for real (the worker process is killed; PostgreSQL's
// statement_timeout cancels the statement on the server), so a read that would never finish
// cannot hold its slot, and enough of them cannot make every later read a 503.
import { WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { PostgresStore, SqliteStore, type Store } from '../store/index.js';
import { ProcessSlot } from './read-process.js';
import {
  type ReadAnswer,
  type ReadRows,
  type ReadTask,
  type RowsOf,
  readTimedOut,
  readUnavailable,
  runTask,
  type Slot,
} from './read-task.js';

export type { ReadAnswer, ReadRows, ReadTask } from './read-task.js';

export interface ReadOptions {
  /** READ_CONCURRENCY: reports computed at once. */
  concurrency: number;
  /** READ_QUEUE: reports waiting for one of those; past it, 503. */
  queue: number;
  /** READ_TIMEOUT_MS: how long one may compute; past it, 503 read_timeout (default 30 s). */
  timeoutMs?: number;
}

export const DEFAULT_READS: Required<ReadOptions> = { concurrency: 2, queue: 32, timeoutMs: 30_000 };

/** PostgreSQL's pools hold 4 connections (store/postgres.ts); on the store's own, reads leave one to the commits. */
const POSTGRES_MAX_READS = 4;
const POSTGRES_MAX_SHARED_READS = 3;

/** SQLSTATE query_canceled: what statement_timeout raises (PostgreSQL, Appendix A). */
const QUERY_CANCELED = '57014';

/** On a store's own connections (PostgreSQL, or an in-memory SQLite store no process can share). */
class InlineSlot implements Slot {
  constructor(private readonly store: Store) {}

  run(task: ReadTask, timeoutMs: number) {
    const work = this.read(task, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    // Past the limit the request is answered; the slot is taken until the work really ends, which
    // statement_timeout (readStoreOf) brings about on the server at the same limit.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(readTimedOut(timeoutMs)), timeoutMs);
    });
    const settled = work.then(noop, noop).finally(() => clearTimeout(timer));
    return { answer: Promise.race([work, late]), settled };
  }

  private async read(task: ReadTask, timeoutMs: number): Promise<ReadAnswer<ReadRows>> {
    try {
      // Store.read tells the version the rows were read at (PostgreSQL: one snapshot that reads it).
      const { value, at } = await this.store.read((s) => runTask(s, task));
      return { rows: value, at };
    } catch (err) {
      if ((err as { code?: unknown }).code === QUERY_CANCELED) throw readTimedOut(timeoutMs);
      throw err;
    }
  }

  async close(): Promise<void> {}
}

/**
 * PostgreSQL reads' own store: the same database, on a pool whose sessions cancel any statement
 * running past the limit (statement_timeout, server side). The client-side query_timeout comes
 * after it, for a server that does not answer at all. URL parameters win over pg's options
 * (store/postgres.ts), so these hold whatever DATABASE_URL says.
 */
function readStoreOf(store: PostgresStore, timeoutMs: number, log: Logger): PostgresStore | undefined {
  const url = store.pool.options.connectionString;
  try {
    const u = new URL(url ?? '');
    u.searchParams.set('statement_timeout', String(timeoutMs));
    u.searchParams.set('query_timeout', String(timeoutMs + 5000));
    u.searchParams.set('application_name', 'warren-reads');
    return new PostgresStore(u.toString());
  } catch (err) {
    // A URL that pg reads but WHATWG URL does not: reads share the store's pool, whose
    // statement_timeout (PG_LIMITS, 10 s) still stops them on the server.
    log.warn(
      { err: (err as Error).message },
      'reads share the store pool: DATABASE_URL could not be rewritten',
    );
    return undefined;
  }
}

/**
 * At most `concurrency` reads at once, `queue` more waiting in order; past that, 503 overloaded
 * with Retry-After. SQLite files are read in worker processes, PostgreSQL on a pool of its own.
 */
export class ReadPool {
  private readonly idle: Slot[] = [];
  private readonly all: Slot[] = [];
  private readonly waiting: { resolve(slot: Slot): void; reject(err: Error): void }[] = [];
  private readonly timeoutMs: number;
  private readonly own: Store | undefined;
  private closed = false;

  constructor(
    store: Store,
    private readonly opts: ReadOptions,
    log: Logger,
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_READS.timeoutMs;
    this.own = store instanceof PostgresStore ? readStoreOf(store, this.timeoutMs, log) : undefined;
    const file = store instanceof SqliteStore && store.path !== ':memory:' ? store.path : undefined;
    const pgMax = this.own ? POSTGRES_MAX_READS : POSTGRES_MAX_SHARED_READS;
    const n = store.kind === 'postgres' ? Math.min(opts.concurrency, pgMax) : opts.concurrency;
    for (let i = 0; i < n; i++) {
      const slot = file ? new ProcessSlot(store, file, log) : new InlineSlot(this.own ?? store);
      this.all.push(slot);
      this.idle.push(slot);
    }
  }

  /** Reads being computed now, and waiting. */
  get load(): { active: number; waiting: number } {
    return { active: this.all.length - this.idle.length, waiting: this.waiting.length };
  }

  async read<K extends ReadTask['kind']>(
    task: Extract<ReadTask, { kind: K }>,
  ): Promise<ReadAnswer<RowsOf[K]>> {
    const slot = await this.acquire();
    const { answer, settled } = slot.run(task, this.timeoutMs);
    void settled.then(() => this.release(slot));
    return (await answer) as ReadAnswer<RowsOf[K]>;
  }

  private acquire(): Promise<Slot> {
    if (this.closed) return Promise.reject(readUnavailable('analytics is shutting down'));
    const slot = this.idle.pop();
    if (slot) return Promise.resolve(slot);
    if (this.waiting.length >= this.opts.queue) {
      return Promise.reject(
        new WarrenError(
          'overloaded',
          `Too many reports are being computed (${this.all.length} at once, ${this.opts.queue} waiting); ` +
            'retry in a second, or raise READ_CONCURRENCY / READ_QUEUE.',
          { status: 503, retryAfterS: 1 },
        ),
      );
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(slot: Slot): void {
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.idle.push(slot);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(readUnavailable('analytics is shutting down'));
    await Promise.all(this.all.map((s) => s.close()));
    await this.own?.close();
  }
}

function noop(): void {}
