// Reads that cannot stall counting. better-sqlite3 is synchronous: a report computed on the
// consumer's thread holds every commit, ack and stream message behind it (a cold 24 h report over
// a big store takes about 0.4 s). So SQLite reports run on read worker threads, each with its own
// read-only connection (WAL: readers never wait for the writer, nor it for them). PostgreSQL is
// already asynchronous, but its pool is shared with the commits, so reads take only some of it.
// Either way at most READ_CONCURRENCY reports are computed at once and READ_QUEUE more wait;
// the next one gets 503 with Retry-After instead of a growing queue.
//
// Each answer says which store version it was read at (`at`), so the report cache can keep it:
// the worker takes the task and says `ready`; the main thread reads the version and answers
// `go`; the worker opens its read transaction and says `snapshot`; the main thread reads the
// version again and says `run` (or `again` when a commit came between: a new snapshot). The commits run on the main thread and change the version, so when both reads
// agree nothing committed around the snapshot, and the snapshot is that version (cache.ts then
// adds the commits made while the report was computed).
import { Worker } from 'node:worker_threads';
import { WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Bucket, ClientReport, ClientTotal, Filter, Point, Store, Uniques } from '../store/index.js';
import type { ReportLayout } from './views.js';

export type ReadTask =
  | { kind: 'clientTotals' }
  | { kind: 'clientReport'; filter: Filter }
  | { kind: 'timeseries'; filter: Filter; bucket: Bucket }
  | { kind: 'uniques'; filter: Filter; bucket: Bucket | undefined };

interface RowsOf {
  clientTotals: ClientTotal[];
  clientReport: ClientReport[];
  timeseries: Point[];
  uniques: Uniques;
}

export type ReadRows = RowsOf[keyof RowsOf];

export interface ReadAnswer<T> {
  rows: T;
  /** The store version the rows were read at, or undefined when it cannot be told. */
  at: string | undefined;
  /** A report's body as the worker wrote it (views.ts), so this thread does not write it again. */
  layout?: ReportLayout;
}

export interface ReadOptions {
  /** READ_CONCURRENCY: reports computed at once. */
  concurrency: number;
  /** READ_QUEUE: reports waiting for one of those; past it, 503. */
  queue: number;
}

export const DEFAULT_READS: ReadOptions = { concurrency: 2, queue: 32 };

/** PostgreSQL's pool holds 4 connections; reads leave at least one to the commits. */
const POSTGRES_MAX_READS = 3;

/** Runs one task on a store (in a worker, or inline). */
export function runTask(store: Store, task: ReadTask): Promise<ReadRows> {
  switch (task.kind) {
    case 'clientTotals':
      return store.clientTotals();
    case 'clientReport':
      return store.clientReport(task.filter);
    case 'timeseries':
      return store.timeseries(task.filter, task.bucket);
    case 'uniques':
      return store.uniques(task.filter, task.bucket);
  }
}

interface Slot {
  run(task: ReadTask): Promise<ReadAnswer<ReadRows>>;
  close(): Promise<void>;
}

/**
 * On the store's own connection (PostgreSQL, or an in-memory SQLite store no thread can share):
 * Store.read tells the version the rows were read at (PostgreSQL: one snapshot that reads it).
 */
class InlineSlot implements Slot {
  constructor(private readonly store: Store) {}

  async run(task: ReadTask): Promise<ReadAnswer<ReadRows>> {
    const { value, at } = await this.store.read((s) => runTask(s, task));
    return { rows: value, at };
  }

  async close(): Promise<void> {}
}

/** What the worker sends back (read-worker.ts). */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'snapshot' }
  | { type: 'done'; rows: ReadRows; layout?: ReportLayout }
  | { type: 'error'; message: string };

interface Pending {
  resolve(a: ReadAnswer<ReadRows>): void;
  reject(err: Error): void;
  /** The version read just before the worker takes its snapshot. */
  before: Promise<string | undefined> | undefined;
  /** That version, once it was still the version just after the snapshot. */
  at: string | undefined;
  /** Snapshots taken so far (one is taken again when a commit came between). */
  tries: number;
}

/** Snapshots a worker takes before it reads without a known version (the answer is not kept). */
const SNAPSHOT_TRIES = 4;

function spawnWorker(path: string): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Run from the sources (tests, `tsx`): the worker registers the same TypeScript loader.
    const url = new URL('./read-worker.ts', here).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
    return new Worker(boot, { eval: true, workerData: { path } });
  }
  return new Worker(new URL('./read-worker.js', here), { workerData: { path } });
}

/** One read worker thread with its own read-only connection; one task at a time. */
class WorkerSlot implements Slot {
  private worker: Worker | undefined;
  private pending: Pending | undefined;

  constructor(
    private readonly store: Store,
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  run(task: ReadTask): Promise<ReadAnswer<ReadRows>> {
    const worker = this.worker ?? this.spawn();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, before: undefined, at: undefined, tries: 0 };
      worker.ref();
      worker.postMessage(task);
    });
  }

  private spawn(): Worker {
    const w = spawnWorker(this.path);
    w.on('message', (m: WorkerMessage) => this.onMessage(m));
    w.on('error', (err: Error) => this.fail(w, err));
    w.on('exit', (code) => this.fail(w, new Error(`the read worker stopped (exit code ${code})`)));
    // An idle worker must not keep the process alive (an API built and never closed, a test);
    // one computing a report does (run() refs it until the answer).
    w.unref();
    this.worker = w;
    return w;
  }

  private onMessage(m: WorkerMessage): void {
    const p = this.pending;
    if (!p) return;
    // SQLite's version() reads synchronously, when called: before the `go`, after the snapshot.
    if (m.type === 'ready') {
      p.before = this.store.version();
      this.worker?.postMessage('go');
      return;
    }
    if (m.type === 'snapshot') {
      p.tries++;
      const after = this.store.version();
      void Promise.all([p.before, after]).then(([a, b]) => {
        if (this.pending !== p) return;
        if (a !== undefined && a === b) p.at = a;
        else if (b !== undefined && p.tries < SNAPSHOT_TRIES) {
          // A commit came between: b was read after that snapshot, so before the next one.
          p.before = Promise.resolve(b);
          this.worker?.postMessage('again');
          return;
        }
        this.worker?.postMessage('run');
      });
      return;
    }
    this.pending = undefined;
    this.worker?.unref();
    if (m.type === 'done') p.resolve({ rows: m.rows, at: p.at, layout: m.layout });
    else p.reject(unavailable(m.message));
  }

  private fail(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      this.log.warn({ err: err.message }, 'a read worker failed; it is started again on the next report');
      p.reject(unavailable(err.message));
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.pending?.reject(unavailable('analytics is shutting down'));
    this.pending = undefined;
    await w?.terminate();
  }
}

function unavailable(cause: string): WarrenError {
  return new WarrenError('store_unavailable', `The report could not be read (${cause}); retry shortly.`, {
    status: 503,
    retryAfterS: 1,
  });
}

/**
 * At most `concurrency` reads at once, `queue` more waiting in order; past that, 503 overloaded
 * with Retry-After. SQLite files are read on worker threads, anything else inline.
 */
export class ReadPool {
  private readonly idle: Slot[] = [];
  private readonly all: Slot[] = [];
  private readonly waiting: { resolve(slot: Slot): void; reject(err: Error): void }[] = [];
  private closed = false;

  constructor(
    store: Store,
    private readonly opts: ReadOptions,
    log: Logger,
  ) {
    const path = store.kind === 'sqlite' ? (store as Store & { path?: string }).path : undefined;
    const n = store.kind === 'postgres' ? Math.min(opts.concurrency, POSTGRES_MAX_READS) : opts.concurrency;
    for (let i = 0; i < n; i++) {
      const slot = path && path !== ':memory:' ? new WorkerSlot(store, path, log) : new InlineSlot(store);
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
    try {
      return (await slot.run(task)) as ReadAnswer<RowsOf[K]>;
    } finally {
      this.release(slot);
    }
  }

  private acquire(): Promise<Slot> {
    if (this.closed) return Promise.reject(unavailable('analytics is shutting down'));
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
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.idle.push(slot);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(unavailable('analytics is shutting down'));
    await Promise.all(this.all.map((s) => s.close()));
  }
}
