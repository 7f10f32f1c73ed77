// What a read is (a task and its rows), how one runs on a store, what a read worker process says
// back (read-worker.ts), and the two ways a read fails: the store could not answer, or it took
// longer than READ_TIMEOUT_MS. Shared by analytics (reader.ts, read-process.ts) and the worker.
import { WarrenError } from '../errors.js';
import type { Bucket, ClientReport, ClientTotal, Filter, Point, Store, Uniques } from '../store/index.js';
import type { ReportLayout } from './views.js';

export type ReadTask =
  | { kind: 'clientTotals' }
  | { kind: 'clientReport'; filter: Filter }
  | { kind: 'timeseries'; filter: Filter; bucket: Bucket }
  | { kind: 'uniques'; filter: Filter; bucket: Bucket | undefined };

export interface RowsOf {
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

/** What a read worker process sends back (read-worker.ts). */
export type WorkerMessage =
  | { type: 'up' }
  | { type: 'ready' }
  | { type: 'snapshot' }
  | { type: 'done'; rows: ReadRows; layout?: ReportLayout }
  | { type: 'error'; message: string };

/** One place a read runs: a read worker process, or a connection of a store (reader.ts). */
export interface Slot {
  /**
   * Runs a task within `timeoutMs`. `answer` settles with the rows or an error (read_timeout at the
   * limit); `settled` once the slot may take the next task: at once for a killed worker process,
   * when the server has cancelled the statement for a connection.
   */
  run(task: ReadTask, timeoutMs: number): { answer: Promise<ReadAnswer<ReadRows>>; settled: Promise<void> };
  close(): Promise<void>;
}

/** Runs one task on a store (in a worker process, or inline). */
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

export function readUnavailable(cause: string): WarrenError {
  return new WarrenError('store_unavailable', `The report could not be read (${cause}); retry shortly.`, {
    status: 503,
    retryAfterS: 1,
  });
}

export function readTimedOut(timeoutMs: number): WarrenError {
  return new WarrenError(
    'read_timeout',
    `The answer took longer than READ_TIMEOUT_MS (${timeoutMs} ms) to compute and was stopped; ` +
      'ask for a shorter range or one cliente or evento, retry when analytics is less busy, or raise READ_TIMEOUT_MS.',
    // Longer than overloaded's 1 s: the same read will likely take as long again right away.
    { status: 503, retryAfterS: 5 },
  );
}
