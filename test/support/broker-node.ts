// A PRIVATE RabbitMQ node for fault tests: a cluster of one (deploy/rabbit-cluster.ts, the same
// code as `npm run cluster` and the cluster tests), with its own node name, AMQP and distribution
// ports, and data and log folders under a temp dir. Tests stop and start it at will without
// touching the shared broker on 5672. Data survives stop/start (same data dir), like a real
// broker restart.
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { createCluster, rabbitUser } from '../../deploy/rabbit-cluster.js';
import { freePort, waitFor } from './helpers.js';

export interface BrokerNode {
  /** amqp://guest:guest@127.0.0.1:<port> */
  url: string;
  port: number;
  nodename: string;
  /** Its data, logs (`log/`) and config, until destroy(). */
  dir: string;
  /** Starts the node (again, with the same data) and resolves once it accepts AMQP connections. */
  start(): Promise<void>;
  /** Stops the node with `rabbitmqctl stop` and waits for the process to end. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the node if running and deletes its data. Safe to call twice. */
  destroy(): Promise<void>;
  /** Runs `rabbitmqctl -n <node> ...args` (e.g. set_vm_memory_high_watermark); resolves to its stdout. */
  ctl(...args: string[]): Promise<string>;
  /** What the node printed (for failure messages). */
  output(): string;
}

async function amqpAnswers(url: string): Promise<boolean> {
  const conn = await amqp.connect(url);
  await conn.close();
  return true;
}

/**
 * Creates (does not start) a private node; call start(). `conf`: more rabbitmq.conf lines
 * (e.g. `raft.wal_max_size_bytes = 67108864`).
 */
export async function createBrokerNode(
  prefix = 'warren_test',
  opts: { conf?: string[] } = {},
): Promise<BrokerNode> {
  const id = randomBytes(3).toString('hex');
  const base = mkdtempSync(join(tmpdir(), `warren-rabbit-${id}-`));
  // The node runs as the rabbitmq user, which must reach its folder inside this one.
  const { uid, gid } = rabbitUser();
  chownSync(base, uid, gid);
  const cluster = createCluster({
    dir: base,
    prefix: `${prefix}_${id}_`,
    ports: [await freePort()],
    distPorts: [await freePort()],
    ...(opts.conf ? { conf: opts.conf } : {}),
  });
  const node = cluster.nodes[0]!;

  async function start(): Promise<void> {
    await node.start();
    // The port listens a moment before the broker takes AMQP connections on it.
    try {
      await waitFor(
        `private RabbitMQ ${node.nodename} on port ${node.port}`,
        () => {
          if (!node.running) throw new Error(`the node exited during start:\n${node.output().slice(-3000)}`);
          return amqpAnswers(node.url);
        },
        60_000,
        250,
      );
    } catch (err) {
      await node.stop();
      throw err;
    }
  }

  return {
    url: node.url,
    port: node.port,
    nodename: node.nodename,
    dir: node.dir,
    start,
    stop: () => node.stop(),
    async restart() {
      await node.stop();
      await start();
    },
    async destroy() {
      await node.stop();
      rmSync(base, { recursive: true, force: true });
    },
    ctl: (...args: string[]) => node.ctl(...args),
    output: () => node.output(),
  };
}

/** Creates and starts a private node. Pair it with `t.after(() => node.destroy())`. */
export async function startBrokerNode(prefix?: string, opts?: { conf?: string[] }): Promise<BrokerNode> {
  const node = await createBrokerNode(prefix, opts);
  await node.start();
  return node;
}
