// A `warren up` killed outright (SIGKILL) cannot stop its children; they run on in their own
// process groups and hold the ports. The next `warren up` with the same STACK_DIR stops them
// (from status.json) and starts cleanly, instead of failing on "port in use".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pidAlive } from '../src/stack/process.js';
import { freePort, testEnv, waitFor, warren } from './support/helpers.js';

interface Status {
  pid: number;
  children: { name: string; pid?: number }[];
}

test('warren up stops what a killed warren up left running, then starts', async () => {
  const env = testEnv('up_left');
  const stackDir = join(env.dir, 'stack');
  const statusFile = join(stackDir, 'status.json');
  const vars = {
    ...env.env,
    PROXY_PORT: String(await freePort()),
    TRAEFIK_API_PORT: String(await freePort()),
    ANALYTICS_PORT: String(await freePort()),
    PANEL_PORT: String(await freePort()),
    INGEST_PORT: String(await freePort()),
    STACK_DIR: stackDir,
    READY_TIMEOUT_S: '90',
  };
  const pids = new Set<number>();
  const read = (): Status => {
    const s = JSON.parse(readFileSync(statusFile, 'utf8')) as Status;
    for (const c of s.children) if (c.pid) pids.add(c.pid);
    return s;
  };
  const first = warren(['up', '--clients', '0', '--ingest', '1'], vars);
  let second: ReturnType<typeof warren> | undefined;
  try {
    await waitFor('the first warren up', () => first.stdout().includes('Warren is up'), 120_000);
    const orphans = read()
      .children.map((c) => c.pid)
      .filter((p): p is number => p !== undefined);
    assert.equal(orphans.length, 5); // analytics, ingest-1, panel, alerts, traefik
    await first.kill('SIGKILL');
    assert.ok(orphans.some(pidAlive), 'some children outlive a SIGKILLed warren up');

    second = warren(['up', '--clients', '0', '--ingest', '1'], vars);
    await waitFor('the second warren up', () => second?.stdout().includes('Warren is up'), 120_000);
    // Parts also stop by themselves once warren up is gone (its IPC channel closes), often before
    // the next warren up looks; the ones still there when it looks, it stops.
    const stopped = /stopping parts left running by a previous warren up/.test(second.output());
    process.stderr.write(`leftovers stopped by the second warren up: ${stopped}\n`);
    for (const pid of orphans) assert.ok(!pidAlive(pid), `left-over pid ${pid} was stopped`);
    read();
    assert.equal(await second.kill('SIGTERM'), 0);
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} is gone`);
  } finally {
    for (const p of [first, second]) if (p && p.child.exitCode === null) await p.kill('SIGKILL');
    for (const pid of pids) if (pidAlive(pid)) process.kill(-pid, 'SIGKILL');
    await env.cleanup();
  }
});
