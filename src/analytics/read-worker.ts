// A read worker thread (reader.ts): its own read-only connection to the SQLite file, one task at
// a time. Each task runs in one read transaction, so every query of a report sees the same
// snapshot; the thread says when that snapshot is taken, so the main thread can tell its version.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { type ClientReport, SqliteStore } from '../store/index.js';
import { type ReadTask, runTask, type WorkerMessage } from './reader.js';
import { ReportView } from './views.js';

const port = parentPort;
if (!port) throw new Error('read-worker.ts runs as a worker thread (reader.ts starts it)');

// The counting thread comes first: on Linux a thread has its own nice value, set through its
// thread id (setpriority(2), "PRIO_PROCESS ... a thread ID"), so reports take the CPU that
// counting leaves. Elsewhere (no /proc/thread-self) the worker keeps the process's priority.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch {
  // not Linux: the worker runs at the process's priority
}

const store = new SqliteStore((workerData as { path: string }).path, { readonly: true });
// Any read starts the transaction's snapshot (WAL: it holds until COMMIT).
const snapshot = store.db.prepare('SELECT 1 FROM client_totals LIMIT 1');

function send(m: WorkerMessage): void {
  port?.postMessage(m);
}

let task: ReadTask | undefined;

/** Ends any read transaction, then starts one and takes its snapshot. */
function takeSnapshot(): void {
  if (store.db.inTransaction) store.db.exec('COMMIT');
  store.db.exec('BEGIN');
  snapshot.get();
  send({ type: 'snapshot' });
}

async function run(t: ReadTask): Promise<void> {
  const rows = await runTask(store, t);
  // A report's body is written here too: for a big one that is tens of milliseconds, which
  // the main thread would otherwise spend writing it (views.ts, ReportView.restore).
  const layout =
    t.kind === 'clientReport' ? new ReportView(t.filter, rows as ClientReport[]).layout() : undefined;
  send({ type: 'done', rows, layout });
}

// The main thread reads the store's version on `ready` and on `snapshot` (reader.ts).
port.on('message', async (m: ReadTask | 'go' | 'again' | 'run') => {
  if (typeof m !== 'string') {
    task = m;
    send({ type: 'ready' });
    return;
  }
  const t = task;
  if (!t) return;
  try {
    if (m !== 'run') return takeSnapshot();
    task = undefined;
    await run(t);
  } catch (err) {
    task = undefined;
    send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  if (task === undefined && store.db.inTransaction) store.db.exec('COMMIT');
});
