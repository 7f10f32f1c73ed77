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
