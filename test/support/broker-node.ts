// A PRIVATE RabbitMQ node for fault tests: its own node name, AMQP and distribution ports, data and
// log folders under a temp dir, no plugins. Tests stop and start it at will without touching the
// shared broker on 5672. Data survives stop/start (same mnesia dir), like a real broker restart.
//
// As root, rabbitmq-server would switch to the `rabbitmq` user; we spawn it as that user directly
// (so the child we hold IS the server) with HOME=/var/lib/rabbitmq, whose Erlang cookie
// `rabbitmqctl` (which also runs as `rabbitmq`) uses too.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { rabbitUser } from '../../deploy/rabbit-cluster.js';
import { freePort, waitFor } from './helpers.js';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const RABBIT_HOME = '/var/lib/rabbitmq';

export interface BrokerNode {
  /** amqp://guest:guest@127.0.0.1:<port> */
  url: string;
  port: number;
  nodename: string;
  /** Starts the node (again, with the same data) and resolves once it accepts AMQP connections. */
  start(): Promise<void>;
  /** Stops the node with `rabbitmqctl stop` and waits for the process to end. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the node if running and deletes its data. Safe to call twice. */
  destroy(): Promise<void>;
  /** Runs `rabbitmqctl -n <node> ...args` (e.g. set_vm_memory_high_watermark) and returns its stdout. */
  ctl(...args: string[]): string;
  /** What the node printed (for failure messages). */
  output(): string;
}

// Every node a test process started, so an unexpected exit of the test still kills them.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function amqpAnswers(url: string): Promise<boolean> {
  const conn = await amqp.connect(url);
  await conn.close();
  return true;
}

/** Creates (does not start) a private node; call start(). */
export async function createBrokerNode(prefix = 'warren_test'): Promise<BrokerNode> {
  const id = randomBytes(3).toString('hex');
  const nodename = `${prefix}_${id}@localhost`;
  const [port, distPort] = [await freePort(), await freePort()];
  const base = mkdtempSync(join(tmpdir(), `warren-rabbit-${id}-`));
  const { uid, gid } = rabbitUser();
  for (const d of ['mnesia', 'log']) mkdirSync(join(base, d));
  writeFileSync(join(base, 'enabled_plugins'), '[].\n');
  // The system rabbitmq.conf pins 5672; a config of our own keeps this node off the shared port.
  writeFileSync(
    join(base, 'rabbitmq.conf'),
    [`listeners.tcp.local = 127.0.0.1:${port}`, 'disk_free_limit.absolute = 10MB', ''].join('\n'),
  );
  writeFileSync(join(base, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
  for (const p of ['', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf', 'rabbitmq-env.conf'])
    chownSync(join(base, p), uid, gid);

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: RABBIT_HOME,
    LANG: 'C.UTF-8',
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
    RABBITMQ_CONF_ENV_FILE: join(base, 'rabbitmq-env.conf'),
    ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = '';

  async function start(): Promise<void> {
    if (child) return;
    const c = spawn(SERVER, [], {
      env,
      uid,
      gid,
      cwd: base,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    live.add(c);
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-20_000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    exited = new Promise((resolve) =>
      c.once('exit', () => {
        live.delete(c);
        if (child === c) child = undefined;
        resolve();
      }),
    );
    try {
      await waitFor(
        `private RabbitMQ ${nodename} on port ${port}`,
        () => {
          if (!child) throw new Error(`the node exited during start:\n${out.slice(-3000)}`);
          return amqpAnswers(url);
        },
        60_000,
        250,
      );
    } catch (err) {
      await kill();
      throw err;
    }
  }

  async function kill(): Promise<void> {
    const c = child;
    if (!c?.pid) return;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }

  function rabbitmqctl(args: string[]) {
    return spawnSync(CTL, ['-n', nodename, ...args], {
      env,
      uid,
      gid,
      cwd: base,
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  async function stop(): Promise<void> {
    if (!child) return;
    // rabbitmqctl asks the node itself to stop: a clean shutdown that keeps the data on disk.
    const r = rabbitmqctl(['stop']);
    if (r.status !== 0) out += `\nrabbitmqctl stop failed: ${r.stderr ?? ''}${r.stdout ?? ''}`;
    const gone = await Promise.race([exited.then(() => true), delay(30_000).then(() => false)]);
    if (!gone) await kill();
  }

  return {
    url,
    port,
    nodename,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async destroy() {
      await stop().catch(() => kill());
      await kill();
      rmSync(base, { recursive: true, force: true });
    },
    ctl(...args: string[]) {
      const r = rabbitmqctl(args);
      if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    output: () => out,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Creates and starts a private node. Pair it with `t.after(() => node.destroy())`. */
export async function startBrokerNode(prefix?: string): Promise<BrokerNode> {
  const node = await createBrokerNode(prefix);
  await node.start();
  return node;
}
