// README, "Getting started": `npm start` and `npm test` check the broker first and, if RabbitMQ does
// not answer, say so in one line and exit 1; `npm test` names what it lacks (Chromium, PostgreSQL)
// in one line each, with the fix, before anything runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, ROOT } from './support/helpers.js';

function node(script: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', script)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('npm start and npm test run the set-up first; without RabbitMQ it says so in one line and exits 1', async () => {
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  for (const s of ['start', 'test'])
    assert.match(scripts[s] ?? '', /^node scripts\/setup\.mjs && /, `npm ${s} starts with the set-up`);
  const port = await freePort(); // nothing listens there
  const r = node('setup.mjs', { AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` });
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(
    lines.at(-1),
    `setup: RabbitMQ is not reachable at 127.0.0.1:${port}; start one (\`rabbitmq-server -detached\`, or \`docker compose up -d rabbitmq\`) or set AMQP_URL`,
  );
  assert.equal(lines.filter((l) => l.includes('RabbitMQ is not reachable')).length, 1, r.stderr);
});

test('npm test names a missing Chromium and an unreachable PostgreSQL, one line each, before anything runs', async () => {
  const port = await freePort();
  // A path that does not exist, and a folder (a folder passes the executable bit check).
  for (const chromium of ['/nonexistent/chromium', tmpdir()]) {
    // 127.0.0.2: not "this machine" to the set-up, so it does not try to start a local cluster.
    const r = node('test.mjs', {
      CHROMIUM_PATH: chromium,
      TEST_DATABASE_URL: `postgres://postgres@127.0.0.2:${port}/test`,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `npm test: CHROMIUM_PATH is ${JSON.stringify(chromium)}, which is not an executable file; fix the path or unset it`,
      `npm test: PostgreSQL is not reachable at 127.0.0.2:${port} (the store tests need one); start it (\`sudo pg_ctlcluster 15 main start\`, or \`sudo apt-get install -y postgresql\` first) or set TEST_DATABASE_URL`,
    ]);
    assert.equal(r.stdout, '', 'no step ran');
  }
});
