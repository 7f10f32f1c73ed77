// The benchmark's measured processes never outlive it: each child (analytics, ingest) has an IPC
// channel to `warren bench`, so a benchmark killed by SIGKILL (or stopped while a stage runs) leaves
// no analytics or ingest holding a port and a queue. Before the channel, they ran on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, ROOT, testEnv, waitFor } from './support/helpers.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a benchmark killed by SIGKILL leaves no measured child running', async () => {
  const env = testEnv('benchkids');
  const port = await freePort();
  const parent = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test', 'support', 'bench-parent.ts'), String(port), env.dir],
    {
      cwd: ROOT,
      env: { ...process.env, BENCH_CHILD_ENV: JSON.stringify({ ...env.env, ANALYTICS_PORT: String(port) }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  parent.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  let pid = 0;
  try {
    await waitFor('the child started and ready', async () => /^\d+\n/.test(out), 60_000);
    pid = Number(out.trim());
    assert.ok(alive(pid));
    parent.kill('SIGKILL');
    await waitFor('the child stopped by itself', async () => !alive(pid), 20_000);
  } finally {
    parent.kill('SIGKILL');
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    await env.cleanup();
  }
});
