// Warren parts started by the benchmark as child processes (`node bin/warren.js <part>`), so the
// measured process has its own event loop and the benchmark's load generators do not steal it.
// Their logs go to a file in the run's directory; a child that fails shows its last lines.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WarrenError } from '../errors.js';
import { sleep } from './util.js';

/** bin/warren.js, from src/bench (tsx) or dist/bench (tsc) alike. */
const WARREN_BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'warren.js');

export interface WarrenChild {
  name: string;
  pid: number;
  url: string;
  proc: ChildProcess;
  /** The last lines of its log, for error messages. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** A name for messages and the log file, e.g. "analytics" or "ingest-2". */
  name: string;
  /** The warren command, e.g. "analytics". */
  command: string;
  port: number;
  env: Record<string, string>;
  dir: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitReady(child: WarrenChild, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited()) {
      throw new WarrenError(
        'internal',
        `${child.name} exited while starting; its log ends with:\n${child.tail()}`,
      );
    }
    try {
      const res = await fetch(`${child.url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(50);
  }
  throw new WarrenError(
    'internal',
    `${child.name} was not ready within ${timeoutMs} ms (${child.url}/readyz: ${last}); its log ends with:\n${child.tail()}`,
  );
}

/** Starts `warren <command>` and resolves once its /readyz answers 200. */
export async function spawnWarren(opts: SpawnOptions): Promise<WarrenChild> {
  const logFile = join(opts.dir, `${opts.name}.log`);
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), WARREN_BIN, opts.command], {
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    // An IPC channel, as `warren up` gives its parts: when the benchmark dies, even by SIGKILL, the
    // channel closes and the child stops by itself (cli.ts stopSignal) instead of running on.
    stdio: ['ignore', fd, fd, 'ipc'],
    cwd: opts.dir,
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((r) =>
    proc.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      r();
    }),
  );
  if (proc.pid === undefined)
    throw new WarrenError('internal', `could not start ${opts.name} (${WARREN_BIN})`);
  const child: WarrenChild = {
    name: opts.name,
    pid: proc.pid,
    url: `http://127.0.0.1:${opts.port}`,
    proc,
    tail: (lines = 15) => tailOf(logFile, lines),
    async stop() {
      if (exitCode !== undefined) return;
      proc.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(8000).then(() => false)]);
      if (!killed) {
        proc.kill('SIGKILL');
        await exit;
      }
    },
  };
  try {
    await waitReady(child, () => exitCode !== undefined, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return child;
}
