// Small process helpers shared by the Supervisor and the left-over check. Children run in
// process groups of their own (spawned detached), so signals go to the group.
import type { ChildProcess } from 'node:child_process';

/** Whether a spawned child is still running. */
export function running(proc: ChildProcess | undefined): boolean {
  return proc !== undefined && proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null;
}

/** Whether any process has this pid (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals the process group led by pid, or the process alone when there is no such group. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An HTTP probe: true when GET url answers 2xx within a second. */
export function httpReady(url: string, headers: Record<string, string> = {}): () => Promise<boolean> {
  return async () => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  };
}

/**
 * Runs a non-Node command under a small Node guard that shares its process group: the guard
 * forwards SIGTERM/SIGINT/SIGHUP and, when its IPC channel to the supervisor closes (the
 * supervisor died, even by SIGKILL), stops the command (SIGTERM, SIGKILL after 10 s) and exits
 * with its code. Linux's PR_SET_PDEATHSIG is not reachable from Node; the channel is portable.
 */
const GUARD = `
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [cmd, ...args] = process.argv.slice(1);
const child = spawn(cmd, args, { stdio: 'inherit' });
let timer;
const stop = () => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  timer ??= setTimeout(() => child.kill('SIGKILL'), 10000);
};
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, stop);
process.on('disconnect', stop);
process.channel?.unref();
child.on('error', (err) => { console.error(cmd + ' could not start: ' + err.message); process.exit(127); });
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
`;

/** The command and arguments that run spec under an IPC-watching guard when it is not Node. */
export function guarded(spec: { command: string; args: string[] }): [string, string[]] {
  if (spec.command === process.execPath) return [spec.command, spec.args];
  return [process.execPath, ['-e', GUARD, spec.command, ...spec.args]];
}
