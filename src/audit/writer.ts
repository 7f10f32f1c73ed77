// Append-only NDJSON files that rotate at a byte limit. append() returns only after the lines are
// written and fdatasync'ed, so the caller may ack the messages they came from.
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export interface WriterOptions {
  dir: string;
  /** A file is closed and a new one started before it would grow past this (one line may exceed it). */
  maxBytes: number;
  log: Logger;
}

/** Names sort by creation time, so `warren replay DIR` reads them in order. */
function fileName(seq: number): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  return `audit-${stamp}-p${process.pid}-${String(seq).padStart(4, '0')}.ndjson`;
}

export class RotatingWriter {
  private fh: FileHandle | undefined;
  private path = '';
  private size = 0;
  private seq = 0;

  constructor(private readonly opts: WriterOptions) {}

  /** The file being written, if any. */
  get current(): string | undefined {
    return this.fh ? this.path : undefined;
  }

  private async rotate(): Promise<FileHandle> {
    await this.closeFile();
    await mkdir(this.opts.dir, { recursive: true });
    this.seq++;
    this.path = join(this.opts.dir, fileName(this.seq));
    // 'wx': a new file every time. Never appending to an older file means a line torn by a crash
    // can only be the last line of its file, never glued to the next one.
    const fh = await open(this.path, 'wx');
    this.fh = fh;
    this.size = 0;
    await this.syncDir();
    this.opts.log.info({ file: this.path }, 'audit file opened');
    return fh;
  }

  /** The new file's directory entry must be durable too, or the fsynced data has no name. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.opts.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Writes each line (ending in "\n") and syncs; rotates between lines at maxBytes. */
  async append(lines: string[]): Promise<void> {
    let fh = this.fh ?? (await this.rotate());
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    try {
      for (const line of lines) {
        const buf = Buffer.from(line, 'utf8');
        if (this.size + chunkBytes > 0 && this.size + chunkBytes + buf.length > this.opts.maxBytes) {
          await this.flush(fh, chunk, chunkBytes);
          fh = await this.rotate();
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(buf);
        chunkBytes += buf.length;
      }
      await this.flush(fh, chunk, chunkBytes);
    } catch (err) {
      // A half-written file is left as it is; the next attempt starts a new one.
      await this.closeFile().catch(() => undefined);
      throw err;
    }
  }

  private async flush(fh: FileHandle, chunk: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    await fh.appendFile(Buffer.concat(chunk, bytes));
    await fh.datasync();
    this.size += bytes;
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  async close(): Promise<void> {
    await this.closeFile();
  }
}
