// A read slot on a SQLite file: a read worker process (read-worker.ts) with its own read-only
// connection, one task at a time. A task that runs past READ_TIMEOUT_MS gets read_timeout and its
// process is killed (SIGKILL: a process stuck inside a SQLite call stops at once, and its read
// snapshot goes with it); the next task starts a new process. An idle process does not keep
// analytics alive, and exits by itself when analytics goes (read-worker.ts).
//
// Each answer says which store version it was read at (`at`), so the report cache can keep it:
// the worker takes the task and says `ready`; this side reads the version and answers `go`; the
// worker opens its read transaction and says `snapshot`; this side reads the version again and
// says `run` (or `again` when a commit came between: a new snapshot). The commits run on this
// process and change the version, so when both reads agree nothing committed around the
// snapshot, and the snapshot is that version (cache.ts then adds the commits made while the
// report was computed).
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import {
  type ReadAnswer,
  type ReadRows,
  type ReadTask,
  readTimedOut,
  readUnavailable,
  type Slot,
  type WorkerMessage,
} from './read-task.js';

/** A worker process not up within this long is killed (it starts in well under a second). */
const START_MS = 30_000;
/** Snapshots a worker takes before it reads without a known version (the answer is not kept). */
const SNAPSHOT_TRIES = 4;

interface Pending {
  child: ChildProcess;
  resolve(a: ReadAnswer<ReadRows>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** The version read just before the worker takes its snapshot. */
  before: Promise<string | undefined> | undefined;
  /** That version, once it was still the version just after the snapshot. */
  at: string | undefined;
  /** Snapshots taken so far (one is taken again when a commit came between). */
  tries: number;
}

function forkWorker(path: string): ChildProcess {
  const here = import.meta.url;
  const fromSources = here.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSources ? './read-worker.ts' : './read-worker.js', here));
  return fork(file, [path], {
    // From the sources (tests, tsx) the worker loads the same TypeScript loader. Never this
    // process's own flags: a test runner's --test would make the worker one.
    execArgv: fromSources ? ['--import', import.meta.resolve('tsx')] : [],
    // Structured clone, as between threads: typed arrays and all, no JSON round trip.
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** A busy worker keeps analytics' event loop alive (its answer is awaited); an idle one does not. */
function hold(child: ChildProcess, busy: boolean): void {
  if (busy) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

export class ProcessSlot implements Slot {
  private child: ChildProcess | undefined;
  private starting: Promise<ChildProcess> | undefined;
  private pending: Pending | undefined;

  constructor(
    private readonly store: Store,
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  run(task: ReadTask, timeoutMs: number) {
    // The limit counts from when a running worker takes the task: starting one is bounded apart.
    const answer = this.start().then((child) => this.begin(child, task, timeoutMs));
    return { answer, settled: answer.then(noop, noop) };
  }

  private begin(child: ChildProcess, task: ReadTask, timeoutMs: number): Promise<ReadAnswer<ReadRows>> {
    return new Promise((resolve, reject) => {
      if (this.child !== child || !child.connected) {
        reject(readUnavailable('the read process stopped'));
        return;
      }
      const p: Pending = {
        child,
        resolve,
        reject,
        timer: undefined,
        before: undefined,
        at: undefined,
        tries: 0,
      };
      p.timer = setTimeout(() => this.stop(p, readTimedOut(timeoutMs)), timeoutMs);
      this.pending = p;
      hold(child, true);
      child.send(task, (err) => err && this.stop(p, readUnavailable(err.message)));
    });
  }

  private start(): Promise<ChildProcess> {
    this.starting ??= new Promise((resolve, reject) => {
      const child = forkWorker(this.path);
      this.child = child;
      hold(child, true);
      let up = false;
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        child.kill('SIGKILL');
      }, START_MS);
      child.on('message', (m: WorkerMessage) => {
        if (m.type !== 'up') return this.onMessage(child, m);
        up = true;
        clearTimeout(timer);
        if (this.pending?.child !== child) hold(child, false);
        resolve(child);
      });
      child.on('error', (err) => this.log.warn({ err: err.message }, 'a read worker process failed'));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const why = late
          ? `the read process did not start within ${START_MS / 1000} s`
          : `the read process stopped (${signal ?? `exit code ${code}`})`;
        if (!up) this.log.warn({ err: why }, 'a read worker process did not start');
        reject(readUnavailable(why));
        this.exited(child, why);
      });
    });
    return this.starting;
  }

  private exited(child: ChildProcess, why: string): void {
    if (this.child === child) {
      this.child = undefined;
      this.starting = undefined;
    }
    const p = this.pending;
    if (p?.child !== child) return;
    this.log.warn({ err: why }, 'a read worker process stopped; a new one takes the next report');
    this.settle(p, readUnavailable(why));
  }

  private onMessage(child: ChildProcess, m: WorkerMessage): void {
    const p = this.pending;
    if (p?.child !== child) return;
    // SQLite's version() reads synchronously, when called: before the `go`, after the snapshot.
    if (m.type === 'ready') {
      p.before = this.store.version();
      child.send('go');
    } else if (m.type === 'snapshot') {
      p.tries++;
      const after = this.store.version();
      void Promise.all([p.before, after]).then(([a, b]) => {
        if (this.pending !== p) return;
        if (a !== undefined && a === b) p.at = a;
        else if (b !== undefined && p.tries < SNAPSHOT_TRIES) {
          // A commit came between: b was read after that snapshot, so before the next one.
          p.before = Promise.resolve(b);
          child.send('again');
          return;
        }
        child.send('run');
      });
    } else if (m.type === 'done') this.settle(p, { rows: m.rows, at: p.at, layout: m.layout });
    else if (m.type === 'error') this.settle(p, readUnavailable(m.message));
  }

  /** Answers a task and kills its process: what it was computing is of no use to anyone. */
  private stop(p: Pending, err: Error): void {
    if (this.pending !== p) return;
    if (this.child === p.child) {
      this.child = undefined;
      this.starting = undefined;
    }
    p.child.kill('SIGKILL');
    this.settle(p, err);
  }

  private settle(p: Pending, outcome: ReadAnswer<ReadRows> | Error): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    hold(p.child, false);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.starting = undefined;
    if (this.pending) this.settle(this.pending, readUnavailable('analytics is shutting down'));
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // Read-only: nothing to finish, so no grace period.
    const gone = once(child, 'exit');
    hold(child, true);
    child.kill('SIGKILL');
    await gone;
  }
}

function noop(): void {}
