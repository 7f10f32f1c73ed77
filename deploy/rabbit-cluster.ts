// A RabbitMQ cluster of N nodes on this machine, from the distribution's rabbitmq-server: distinct
// node names, AMQP and distribution ports, and data/log folders under one directory owned by the
// `rabbitmq` user. Used by `npm run cluster` (deploy/cluster.ts), by the cluster fault tests, and,
// as a cluster of one, by every test's private broker (test/support/broker-node.ts).
//
// As root, rabbitmq-server would switch to the `rabbitmq` user itself; we spawn it as that user
// directly (so the child we hold IS the server) with HOME=/var/lib/rabbitmq, whose Erlang cookie
// every node and rabbitmqctl then share: nodes of one cluster must have the same cookie
// (https://www.rabbitmq.com/docs/clustering#erlang-cookie). Loopback only.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const RABBIT_HOME = '/var/lib/rabbitmq';

export interface ClusterOptions {
  /** Data, logs and config of every node go under here (created, chowned to rabbitmq). */
  dir: string;
  /** Node name prefix: nodes are `<prefix>1@localhost`, `<prefix>2@localhost`, … */
  prefix: string;
  /** One AMQP port per node; their count is the cluster size. */
  ports: number[];
  /** One Erlang distribution port per node. */
  distPorts: number[];
  /** More rabbitmq.conf lines for every node (e.g. `raft.wal_max_size_bytes = 67108864`). */
  conf?: string[];
}

export interface ClusterNode {
  nodename: string;
  port: number;
  url: string;
  dir: string;
  readonly running: boolean;
  /** Starts the node (again, with its data) and resolves once it accepts TCP on its AMQP port. */
  start(): Promise<void>;
  /** A clean shutdown that keeps the data (SIGTERM, as `rabbitmqctl stop`); waits for the process to end. */
  stop(): Promise<void>;
  /** `rabbitmqctl -n <node> ...args`, resolving to its stdout (rejects on a non-zero exit). */
  ctl(...args: string[]): Promise<string>;
  output(): string;
}

export function rabbitUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'rabbitmq']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'rabbitmq']).toString().trim());
  return { uid, gid };
}

/** Waits ms; a timer that only bounds a wait (keepAlive false) does not keep the process alive. */
function delay(ms: number, keepAlive = false): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    if (!keepAlive) t.unref();
  });
}

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Runs rabbitmqctl as the rabbitmq user against one node (asynchronously: tests keep polling). */
export function rabbitmqctl(nodename: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const { uid, gid } = rabbitUser();
  return new Promise((resolve, reject) => {
    execFile(
      CTL,
      ['-n', nodename, ...args],
      { uid, gid, cwd: RABBIT_HOME, env: baseEnv(), timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`rabbitmqctl -n ${nodename} ${args.join(' ')}: ${stderr || stdout || err}`))
          : resolve(stdout),
    );
  });
}

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: RABBIT_HOME, LANG: 'C.UTF-8' };
}

function prepare(dir: string, port: number, uid: number, gid: number, conf: string[]): void {
  // conf.d: RabbitMQ also loads every file of RABBITMQ_CONFIG_FILES (default /etc/rabbitmq/conf.d,
  // the shared broker's), after rabbitmq.conf; an empty folder of our own keeps them out (and
  // advanced.config is looked for here, where there is none).
  for (const d of ['', 'mnesia', 'log', 'conf.d']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  // The system rabbitmq.conf pins 5672 (the shared broker); a config of our own keeps us off it.
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.local = 127.0.0.1:${port}`,
      'disk_free_limit.absolute = 10MB',
      // A stopped peer is noticed within a few seconds, so a new quorum leader is elected fast.
      'net_ticktime = 10',
      ...conf,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'rabbitmq-env.conf'), 'ERL_EPMD_ADDRESS=127.0.0.1\n');
  for (const p of ['', 'mnesia', 'log', 'conf.d', 'enabled_plugins', 'rabbitmq.conf', 'rabbitmq-env.conf'])
    chownSync(join(dir, p), uid, gid);
}

// Every node this process started, so even an unexpected exit kills them.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function makeNode(
  nodename: string,
  port: number,
  distPort: number,
  dir: string,
  conf: string[],
): ClusterNode {
  const { uid, gid } = rabbitUser();
  const env: Record<string, string> = {
    ...baseEnv(),
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_CONFIG_FILES: join(dir, 'conf.d'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'), // none: not the shared one
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = '';

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

  return {
    nodename,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    dir,
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child) return;
      prepare(dir, port, uid, gid, conf);
      const c = spawn(SERVER, [], {
        env,
        uid,
        gid,
        cwd: dir,
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
      const deadline = Date.now() + 120_000;
      while (!(await tcpAnswers(port))) {
        if (!child) throw new Error(`${nodename} exited during start:\n${out.slice(-3000)}`);
        if (Date.now() > deadline) {
          await kill();
          throw new Error(`${nodename} did not listen on ${port} within 120 s:\n${out.slice(-3000)}`);
        }
        // Kept alive: if the node dies meanwhile, nothing else may be left to wake this loop.
        await delay(250, true);
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      // SIGTERM to rabbitmq-server: its handler stops the node cleanly, as `rabbitmqctl stop`
      // does (rabbitmq-server's TERM trap; rabbit_prelaunch_sighandler), but the stop begins at
      // once. `rabbitmqctl` first boots an Erlang VM of its own, seconds on a loaded machine, so
      // a caller could not tell when the node began to stop.
      c.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), delay(90_000).then(() => false)]);
      if (!gone) {
        out += '\nstill running 90 s after SIGTERM: killed';
        await kill();
      }
    },
    ctl: (...args: string[]) => rabbitmqctl(nodename, args),
    output: () => out,
  };
}

export interface Cluster {
  nodes: ClusterNode[];
  /** Every node's AMQP URL, comma-separated: the AMQP_URL to give Warren. */
  amqpUrl: string;
  /** Starts every node (in parallel), then joins the ones not yet clustered to the first. */
  start(log?: (line: string) => void): Promise<void>;
  /** Stops every running node cleanly, the first node last (it is the one to start first again). */
  stop(): Promise<void>;
  /** Names of the running cluster members, as the first running node sees them. */
  runningNodes(): Promise<string[]>;
  /** The node that leads a quorum queue, asked of a running node; undefined if none is known. */
  leaderOf(queue: string): Promise<string | undefined>;
  /** Leader, members and online members of a quorum queue, asked of `via` (default: a running node). */
  queueMembers(
    queue: string,
    via?: ClusterNode,
  ): Promise<{ leader?: string; members: string[]; online: string[] }>;
}

export function createCluster(opts: ClusterOptions): Cluster {
  const nodes = opts.ports.map((port, i) =>
    makeNode(
      `${opts.prefix}${i + 1}@localhost`,
      port,
      opts.distPorts[i]!,
      join(opts.dir, `node${i + 1}`),
      opts.conf ?? [],
    ),
  );
  const anyRunning = () => {
    const n = nodes.find((x) => x.running);
    if (!n) throw new Error('no node of the cluster is running');
    return n;
  };

  async function runningNodes(): Promise<string[]> {
    const out = await anyRunning().ctl('cluster_status', '--formatter', 'json');
    return (JSON.parse(out) as { running_nodes: string[] }).running_nodes;
  }

  async function queueMembers(queue: string, via?: ClusterNode) {
    const out = await (via ?? anyRunning()).ctl(
      'list_queues',
      '--quiet',
      '--formatter',
      'json',
      'name',
      'leader',
      'members',
      'online',
    );
    const rows = JSON.parse(out) as {
      name: string;
      leader?: string;
      members?: string[];
      online?: string[];
    }[];
    const row = rows.find((r) => r.name === queue);
    const leader = row?.leader && row.leader !== '' ? row.leader : undefined;
    return { leader, members: row?.members ?? [], online: row?.online ?? [] };
  }

  return {
    nodes,
    amqpUrl: nodes.map((n) => n.url).join(','),
    async start(log = () => undefined) {
      await Promise.all(nodes.map((n) => n.start()));
      log(`${nodes.length} nodes listening on ${nodes.map((n) => n.port).join(', ')}`);
      const first = nodes[0]!;
      for (const [i, n] of nodes.entries()) {
        if (i === 0) continue;
        const members = await runningNodes();
        if (members.includes(n.nodename)) continue; // clustered on an earlier run
        // https://www.rabbitmq.com/docs/clustering#creating
        await n.ctl('stop_app');
        await n.ctl('join_cluster', first.nodename);
        await n.ctl('start_app');
        log(`${n.nodename} joined ${first.nodename}`);
      }
    },
    async stop() {
      for (const n of [...nodes].reverse()) await n.stop();
    },
    runningNodes,
    async leaderOf(queue) {
      return (await queueMembers(queue)).leader;
    },
    queueMembers,
  };
}
