// A read worker process (read-process.ts starts it): its own read-only connection to the SQLite
// file, one task at a time. Each task runs in one read transaction, so every query of a report
// sees the same snapshot; the process says when that snapshot is taken, so analytics can tell its
// version. A process, not a thread: a read that runs too long is stopped by killing it, and a
// thread inside a SQLite call cannot be stopped until the call returns (Worker.terminate() waits
// for it: a minute-long query holds its thread and its core for that minute).
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { type ClientReport, SqliteStore } from '../store/index.js';
import { type ReadTask, runTask, type WorkerMessage } from './read-task.js';
import { ReportView } from './views.js';

if (!process.send)
  throw new Error('read-worker runs as a child process of analytics (read-process.ts starts it)');

// Analytics gone (killed, crashed): nothing is left to answer, so this process goes too.
process.on('disconnect', () => process.exit(0));

// Counting comes first: on Linux the nice value is per thread (setpriority(2), "PRIO_PROCESS ...
// a thread ID"), so every thread of this process is lowered; threads started later inherit it.
// Elsewhere (no /proc) the process keeps its priority.
try {
  for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), 10);
} catch {
  // not Linux: the process runs at analytics' priority
}

const path = process.argv[2];
if (!path) throw new Error('read-worker takes the SQLite file as its argument');
const store = new SqliteStore(path, { readonly: true });
// Any read starts the transaction's snapshot (WAL: it holds until COMMIT).
const snapshot = store.db.prepare('SELECT 1 FROM client_totals LIMIT 1');

function send(m: WorkerMessage): void {
  process.send?.(m);
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
  // analytics' thread would otherwise spend writing it (views.ts, ReportView.restore).
  const layout =
    t.kind === 'clientReport' ? new ReportView(t.filter, rows as ClientReport[]).layout() : undefined;
  send({ type: 'done', rows, layout });
}

// Analytics reads the store's version on `ready` and on `snapshot` (read-process.ts).
process.on('message', async (m: ReadTask | 'go' | 'again' | 'run') => {
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
// Messages sent before this listener existed would be lost: analytics waits for this one.
send({ type: 'up' });
