// Optional spooling of pending batches to a file, so tracked events survive a client restart.
// The file is an append-only NDJSON log: `{"add":seq,"events":[…]}` when a batch is formed,
// `{"done":seq}` when it is confirmed or refused. It is emptied whenever nothing is pending and
// rewritten (temp file + rename, so a crash leaves the old or the new file, never half of one)
// when dead lines outweigh live ones. A torn last line (crash mid-write) is skipped on load.
// Writes are synchronous: they survive the process being killed, not a power cut (no fsync).
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { SdkError } from './errors.js';
import type { SdkEvent as Event } from './transport.js';

export interface SpooledBatch {
  seq: number;
  events: Event[];
}

function isEvent(v: unknown): v is Event {
  const e = v as Record<string, unknown> | null;
  return typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.evento === 'string';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Reads the batches a previous run left unconfirmed, in the order they were formed. */
export function readSpool(path: string): Event[][] {
  if (!existsSync(path)) return [];
  const live = new Map<number, Event[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    let rec: { add?: unknown; done?: unknown; events?: unknown };
    try {
      rec = JSON.parse(line);
    } catch {
      continue; // a line torn by a crash: its batch was never acknowledged to anyone
    }
    if (typeof rec.done === 'number') live.delete(rec.done);
    else if (typeof rec.add === 'number' && Array.isArray(rec.events) && rec.events.every(isEvent)) {
      live.set(rec.add, rec.events);
    }
  }
  return [...live.values()];
}

export class Spool {
  private fd: number;
  private readonly live = new Map<number, string>();
  private liveBytes = 0;
  private fileBytes = 0;
  private readonly lock: string;

  /** Opens (and locks) the spool; loaded() gives what a previous run left pending. */
  constructor(readonly path: string) {
    this.lock = `${path}.lock`;
    this.takeLock();
    this.fd = openSync(path, 'a');
    this.fileBytes = fstatSync(this.fd).size;
  }

  private takeLock(): void {
    for (let tries = 0; tries < 2; tries++) {
      try {
        writeFileSync(this.lock, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(this.lock, 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
          throw new SdkError(
            'spool',
            `the spool file ${this.path} is in use by process ${pid}; give each client its own spoolFile`,
          );
        }
        rmSync(this.lock, { force: true }); // left by a process that died
      }
    }
    throw new SdkError('spool', `could not lock ${this.lock}; remove it if no client uses ${this.path}`);
  }

  /** Takes the batches left by a previous run and rewrites the file with them as seq 1..n. */
  recover(): SpooledBatch[] {
    const batches = readSpool(this.path).map((events, i) => ({ seq: i + 1, events }));
    for (const b of batches) this.remember(b.seq, b.events);
    this.rewrite();
    return batches;
  }

  private remember(seq: number, events: Event[]): string {
    const line = `${JSON.stringify({ add: seq, events })}\n`;
    this.live.set(seq, line);
    this.liveBytes += Buffer.byteLength(line);
    return line;
  }

  private write(line: string): void {
    const buf = Buffer.from(line);
    writeSync(this.fd, buf);
    this.fileBytes += buf.length;
  }

  add(seq: number, events: Event[]): void {
    this.write(this.remember(seq, events));
  }

  done(seq: number): void {
    const line = this.live.get(seq);
    if (line === undefined) return;
    this.live.delete(seq);
    this.liveBytes -= Buffer.byteLength(line);
    if (this.live.size === 0) {
      // Nothing pending: an empty file says so in the cheapest way.
      ftruncateSync(this.fd, 0);
      this.fileBytes = 0;
    } else {
      this.write(`${JSON.stringify({ done: seq })}\n`);
      if (this.fileBytes > 1_048_576 && this.fileBytes > 4 * this.liveBytes) this.rewrite();
    }
  }

  /** Replaces the file by one holding only the live batches. */
  private rewrite(): void {
    const tmp = `${this.path}.tmp`;
    const content = [...this.live.values()].join('');
    writeFileSync(tmp, content);
    renameSync(tmp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.fileBytes = Buffer.byteLength(content);
  }

  get pendingBatches(): number {
    return this.live.size;
  }

  close(): void {
    closeSync(this.fd);
    rmSync(this.lock, { force: true });
  }
}
