// `npm run cluster`: a three-node RabbitMQ cluster on this machine (docs/scaling.md). Starts the
// nodes, joins them, prints the AMQP_URL to give Warren and the cluster's status, and stays in the
// foreground; Ctrl-C or SIGTERM stops every node cleanly (data kept under data/cluster/).
//   npm run cluster                  start (or restart, with the data of the last run)
//   npm run cluster -- status        the running cluster's members and queue leaders
//   npm run cluster -- stop          stop a cluster started by another `npm run cluster`
//   npm run cluster -- --fresh       wipe data/cluster first
// Ports: AMQP 5681-5683, distribution 25681-25683 (CLUSTER_PORT / CLUSTER_DIST_PORT move them,
// CLUSTER_NODES changes the size; CLUSTER_DIR moves data/cluster/ and CLUSTER_NAME the node names'
// prefix, warren_cluster_). Needs root (the nodes run as the `rabbitmq` user).
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createCluster } from './rabbit-cluster.js';

const root = join(import.meta.dirname, '..');
const dir = process.env.CLUSTER_DIR || join(root, 'data', 'cluster');
const stateFile = join(dir, 'cluster.json');
const size = Number(process.env.CLUSTER_NODES ?? 3);
const port = Number(process.env.CLUSTER_PORT ?? 5681);
const distPort = Number(process.env.CLUSTER_DIST_PORT ?? 25681);
const range = (from: number) => Array.from({ length: size }, (_, i) => from + i);
// The broker settings Warren ships (deploy/rabbitmq/20-warren.conf) that suit every node: the
// quorum WAL's size. Its MQTT and STOMP listeners would clash between nodes on one host.
const shipped = readFileSync(join(root, 'deploy', 'rabbitmq', '20-warren.conf'), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('raft.'));
const cluster = createCluster({
  dir,
  prefix: process.env.CLUSTER_NAME || 'warren_cluster_',
  ports: range(port),
  distPorts: range(distPort),
  conf: shipped,
});
const say = (line: string) => process.stderr.write(`cluster: ${line}\n`);

interface State {
  pid: number;
  amqpUrl: string;
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/** Whether pid is a running `npm run cluster` (a stale state file's pid may belong to another process now). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cluster.ts');
  } catch {
    return false;
  }
}

function portBusy(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(p, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function status(): Promise<void> {
  const up: string[] = [];
  for (const n of cluster.nodes) if (await portBusy(n.port)) up.push(n.nodename);
  for (const n of cluster.nodes)
    say(`${n.nodename.padEnd(28)} amqp 127.0.0.1:${n.port}  ${up.includes(n.nodename) ? 'up' : 'down'}`);
  const ask = cluster.nodes.find((n) => up.includes(n.nodename));
  if (!ask) return;
  const out = await ask
    .ctl('list_queues', '--quiet', '--formatter', 'json', 'name', 'type', 'leader', 'online', 'messages')
    .catch(() => '[]');
  for (const q of JSON.parse(out) as Record<string, unknown>[])
    say(
      `queue ${String(q.name)} (${String(q.type)}): leader ${String(q.leader ?? '-')}, online ${JSON.stringify(q.online ?? [])}, ${String(q.messages)} messages`,
    );
}

async function stopOther(): Promise<number> {
  const state = readState();
  if (state && alive(state.pid)) {
    say(`stopping the cluster of process ${state.pid}`);
    process.kill(state.pid, 'SIGTERM');
    while (alive(state.pid)) await new Promise((r) => setTimeout(r, 200));
    say('stopped');
    return 0;
  }
  // No foreground process (it was killed): stop whatever node still answers.
  let any = false;
  for (const n of [...cluster.nodes].reverse())
    if (await portBusy(n.port)) {
      any = true;
      say(`stopping ${n.nodename}`);
      await n.ctl('stop').catch((err) => say(String(err)));
    }
  if (existsSync(stateFile)) unlinkSync(stateFile);
  say(any ? 'stopped' : 'no cluster is running');
  return 0;
}

async function run(fresh: boolean): Promise<number> {
  const state = readState();
  if (state && alive(state.pid)) {
    say(`already running (process ${state.pid}); AMQP_URL=${state.amqpUrl}`);
    return 1;
  }
  for (const n of cluster.nodes)
    if (await portBusy(n.port)) {
      say(`port ${n.port} is taken; run \`npm run cluster -- stop\` or set CLUSTER_PORT`);
      return 1;
    }
  if (fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let stopping: Promise<void> | undefined;
  const shutdown = (sig: string) => {
    if (stopping) return; // npm forwards the terminal's Ctrl-C a second time
    say(`${sig}: stopping every node`);
    stopping = cluster.stop().then(() => {
      if (existsSync(stateFile)) unlinkSync(stateFile);
      say('stopped');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  const t0 = Date.now();
  say(`starting ${size} nodes under ${dir}`);
  try {
    await cluster.start(say);
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await cluster.stop();
    return 1;
  }
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, amqpUrl: cluster.amqpUrl }));
  say(
    `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; members: ${(await cluster.runningNodes()).join(', ')}`,
  );
  await status();
  say('Ctrl-C stops every node; `npm run cluster -- status` shows leaders; use this with warren:');
  process.stdout.write(`AMQP_URL=${cluster.amqpUrl}\n`);
  await new Promise(() => undefined); // until a signal
  return 0;
}

const args = process.argv.slice(2);
const cmd = args.find((a) => !a.startsWith('-')) ?? 'start';
if (cmd === 'stop') process.exit(await stopOther());
else if (cmd === 'status') {
  await status();
  process.exit(0);
} else if (cmd === 'start') process.exit(await run(args.includes('--fresh')));
else {
  say(`unknown command "${cmd}"; use start, status or stop`);
  process.exit(2);
}
