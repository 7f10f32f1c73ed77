// `npm run cluster` (deploy/cluster.ts), as the README describes it: it starts the nodes, joins
// them, prints the AMQP_URL to give Warren, gives every node the broker settings Warren ships
// (deploy/rabbitmq/20-warren.conf's quorum WAL size), answers `status`, and `stop` (from another
// terminal) stops every node and ends the foreground process. Two nodes on free ports, in a temp
// folder under node names of the test's own: a user's own `npm run cluster` is never touched.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import amqp from 'amqplib';
import { rabbitmqctl } from '../deploy/rabbit-cluster.js';
import { canListen, freePorts } from '../src/net.js';
import { ROOT, waitFor, within } from './support/helpers.js';

const SIZE = 2;
const dir = mkdtempSync(join(tmpdir(), 'warren-cluster-cmd-'));
chmodSync(dir, 0o755); // the nodes run as `rabbitmq`
const name = `warren_cc_${randomBytes(3).toString('hex')}_`;
let fg: ChildProcess | undefined;
let env: NodeJS.ProcessEnv = {};

/** Two runs of SIZE consecutive free ports (deploy/cluster.ts numbers its nodes' ports from one). */
async function consecutive(): Promise<[number, number]> {
  for (;;) {
    const [a, b] = (await freePorts(2)) as [number, number];
    if (Math.abs(a - b) > SIZE && (await canListen(a + 1)) && (await canListen(b + 1))) return [a, b];
  }
}

/** `node --import tsx deploy/cluster.ts ...args`, to its end: exit code and output. */
function command(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'deploy', 'cluster.ts'), ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (out += d));
    c.once('exit', (code) => resolve({ code, out }));
  });
}

after(async () => {
  if (fg && fg.exitCode === null) {
    await command(['stop']);
    fg.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

test('npm run cluster: starts and joins the nodes, prints AMQP_URL, ships the WAL size; status; stop ends it', async () => {
  const [port, distPort] = await consecutive();
  env = {
    ...process.env,
    CLUSTER_NODES: String(SIZE),
    CLUSTER_PORT: String(port),
    CLUSTER_DIST_PORT: String(distPort),
    CLUSTER_DIR: dir,
    CLUSTER_NAME: name,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'deploy', 'cluster.ts'), '--fresh'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  fg = child;
  let stdout = '';
  let all = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d;
    all += d;
  });
  child.stderr?.on('data', (d: Buffer) => (all += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const line = await waitFor(
    'the AMQP_URL line',
    () => {
      if (child.exitCode !== null) throw new Error(`npm run cluster exited ${child.exitCode}:\n${all}`);
      return /^AMQP_URL=(\S+)$/m.exec(stdout)?.[1];
    },
    240_000,
    200,
  );
  const urls = line.split(',');
  assert.deepEqual(
    urls.map((u) => new URL(u).port),
    [String(port), String(port + 1)],
    `AMQP_URL=${line}`,
  );
  const members = /members: (.*)$/m.exec(all)?.[1]?.split(', ').sort();
  assert.deepEqual(members, [`${name}1@localhost`, `${name}2@localhost`], all);
  assert.ok(existsSync(join(dir, 'cluster.json')), 'the state file that `stop` reads');

  // Every URL takes a connection; every node rolls its quorum WAL at the size Warren ships.
  const shipped = /^raft\.wal_max_size_bytes = (\d+)$/m.exec(
    readFileSync(join(ROOT, 'deploy', 'rabbitmq', '20-warren.conf'), 'utf8'),
  )?.[1];
  assert.equal(shipped, '67108864');
  for (const [i, u] of urls.entries()) {
    const c = await amqp.connect(u);
    await c.close();
    const got = await rabbitmqctl(`${name}${i + 1}@localhost`, [
      'eval',
      'application:get_env(ra, wal_max_size_bytes).',
    ]);
    assert.equal(got.trim(), `{ok,${shipped}}`, `node ${i + 1}`);
  }

  const status = await command(['status']);
  assert.equal(status.code, 0, status.out);
  for (let i = 1; i <= SIZE; i++)
    assert.match(
      status.out,
      new RegExp(`${name}${i}@localhost\\s+amqp 127\\.0\\.0\\.1:${port + i - 1}\\s+up`),
    );

  const stop = await command(['stop']);
  assert.equal(stop.code, 0, stop.out);
  assert.match(stop.out, /stopped/);
  assert.equal(await within('the foreground process to end', 120_000, exited), 0, all);
  assert.ok(!existsSync(join(dir, 'cluster.json')), 'the state file is removed');
  const after = await command(['status']);
  for (let i = 1; i <= SIZE; i++)
    assert.match(after.out, new RegExp(`${name}${i}@localhost\\s+amqp \\S+\\s+down`));
});
