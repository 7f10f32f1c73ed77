// Children of a `warren up` that was killed outright (SIGKILL, a crash of the machine's session)
// run on in their own process groups and hold the ports. The next `warren up` finds them in the
// status file and stops them, after checking that each pid still runs a Warren part or Traefik
// (a pid may have been reused by something else since).
import { existsSync, readFileSync } from 'node:fs';
import { WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { pidAlive, signalGroup, sleep } from './process.js';

interface StatusFile {
  pid?: number;
  children?: { name?: string; pid?: number }[];
}

/** Whether pid runs our bin/warren.js or a traefik binary (Linux /proc; elsewhere: unknown = no). */
function isOurs(pid: number): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return /bin\/warren\.js|traefik/.test(cmd);
  } catch {
    return false;
  }
}

/**
 * Stops what a previous, dead `warren up` left running. Throws if that `warren up` still runs
 * with the same STACK_DIR.
 */
export async function stopLeftovers(statusFile: string, log: Logger): Promise<void> {
  if (!existsSync(statusFile)) return;
  let status: StatusFile;
  try {
    status = JSON.parse(readFileSync(statusFile, 'utf8')) as StatusFile;
  } catch {
    return; // unreadable: nothing we can trust in it
  }
  if (status.pid && status.pid !== process.pid && pidAlive(status.pid) && isOurs(status.pid)) {
    throw new WarrenError(
      'config',
      `another warren up (pid ${status.pid}) is running with this STACK_DIR; stop it (Ctrl-C or kill ${status.pid}) or set STACK_DIR`,
    );
  }
  const left = (status.children ?? []).filter(
    (c): c is { name: string; pid: number } => !!c.pid && pidAlive(c.pid) && isOurs(c.pid),
  );
  if (left.length === 0) return;
  log.warn({ children: left }, 'stopping parts left running by a previous warren up that was killed');
  for (const c of left) signalGroup(c.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (left.some((c) => pidAlive(c.pid)) && Date.now() < deadline) await sleep(100);
  for (const c of left) if (pidAlive(c.pid)) signalGroup(c.pid, 'SIGKILL');
}
