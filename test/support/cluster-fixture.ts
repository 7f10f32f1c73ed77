// A three-node RabbitMQ cluster of a test's own (deploy/rabbit-cluster.ts on free ports, in a temp
// dir), and the fault scenario the cluster tests share: clients publish, one analytics counts, the
// node that leads the queue is stopped (and, in the long version, started again, then another node
// is stopped). Afterwards: counted == confirmed exactly, the queue kept a leader on a running node
// (polled with rabbitmqctl all along), and the clients saw only a few reconnects.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import amqp from 'amqplib';
import { type Cluster, type ClusterNode, createCluster } from '../../deploy/rabbit-cluster.js';
import type { Reporte } from '../../src/analytics/index.js';
import {
  freePort,
  getJson,
  sleep,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  waitFor,
  warren,
  within,
} from './helpers.js';
import { checkIds, readIds, seenIds } from './ids.js';
import { startLeaderProbe } from './leader-probe.js';

export interface PrivateCluster {
  cluster: Cluster;
  /** The cluster's folder (readable by the rabbitmq user). */
  dir: string;
  /** Stops every node and deletes the data; safe to call twice. */
  destroy(): Promise<void>;
}

export async function startPrivateCluster(size = 3): Promise<PrivateCluster> {
  const id = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `warren-cluster-${id}-`));
  chmodSync(dir, 0o755); // the nodes run as `rabbitmq` and must reach their folders below it
  const ports: number[] = [];
  const distPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    distPorts.push(await freePort());
  }
  const cluster = createCluster({ dir, prefix: `warren_ct_${id}_`, ports, distPorts });
  const destroy = async () => {
    await Promise.all(cluster.nodes.map((n) => n.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await cluster.start();
  } catch (err) {
    await destroy();
    throw err;
  }
  return { cluster, dir, destroy };
}

const RETRY_LINE = /lost the RabbitMQ connection|RabbitMQ is not reachable|publisher channel error/g;

export interface FaultOptions {
  clients: number;
  /** Events per second of each client. */
  rate: number;
  /** After stopping the leader: start it again, then stop a different node. */
  full: boolean;
}

interface Sample {
  t: number;
  leader: string | undefined;
}

/** The samples as runs of one leader: "0.0s=none 3.4s=2 16.8s=none 17.1s=3" (node number). */
function leaderRuns(samples: Sample[], t0: number): string {
  const runs: string[] = [];
  let prev: string | null = null;
  for (const x of samples) {
    const who = x.leader?.split('@')[0]?.slice(-1) ?? 'none';
    if (who !== prev) runs.push(`${((x.t - t0) / 1000).toFixed(1)}s=${who}`);
    prev = who;
  }
  return runs.join(' ');
}

/** Runs the scenario on a running private cluster; every child is killed on the way out. */
export async function leaderFailover(t: TestContext, pc: PrivateCluster, opts: FaultOptions): Promise<void> {
  const { cluster } = pc;
  const te: TestEnv = testEnv('cluster');
  const procs: WarrenProcess[] = [];
  const down = new Set<string>(); // nodes being stopped or stopped: a leader there is no leader
  const samples: Sample[] = [];
  let failedPolls = 0;
  const t0 = Date.now();
  const log = (s: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${s}`);
  const urls = cluster.nodes.map((n) => n.url);
  // Each process lists the nodes starting at a different one, so connections spread over the nodes.
  const rotated = (i: number) =>
    [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)].join(',');
  const env = { ...te.env, AMQP_URL: cluster.amqpUrl, LOG_LEVEL: 'info' };
  const up = () => cluster.nodes.find((n) => !down.has(n.nodename))!;

  // The leader as the first running node that answered sees it (a node being stopped may still
  // name itself: it counts as no leader).
  const probe = startLeaderProbe(
    pc.dir,
    te.queue,
    cluster.nodes.map((n) => n.nodename),
    ({ t, answers }) => {
      const seen = [...answers].find(([node, a]) => !down.has(node) && a !== 'error')?.[1];
      if (seen === undefined) failedPolls++;
      else samples.push({ t, leader: seen !== 'none' && !down.has(seen) ? seen : undefined });
    },
  );

  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Analytics starts on the second node: the leader's stop does not cut its connection, so its
    // consumer must follow the queue to the new leader by itself (quorum queues re-attach it).
    const analytics = warren(['analytics'], { ...env, AMQP_URL: rotated(1), ANALYTICS_PORT: String(port) });
    procs.push(analytics);
    await untilReady(analytics, base, { timeoutMs: 90_000 });
    const members = await cluster.queueMembers(te.queue, up());
    assert.equal(members.members.length, cluster.nodes.length, 'the quorum queue has a member on every node');
    const total = async () => (await getJson<Reporte>(`${base}/reporte`)).body.total;
    const progress = async (what: string) => {
      const from = await total();
      await waitFor(what, async () => (await total()) > from + opts.rate, 90_000, 250);
    };

    const clients = Array.from({ length: opts.clients }, (_, i) => {
      const idsOut = join(te.dir, `cliente_${i + 1}.ids`);
      const p = warren(
        ['client', '--name', `cliente_${i + 1}`, '--rate', String(opts.rate), '--ids-out', idsOut],
        {
          ...env,
          AMQP_URL: rotated(i), // the first client connects to the first node, the leader-to-be
        },
      );
      procs.push(p);
      return p;
    });
    await progress('events counted before any fault');

    const stopLeader = async (): Promise<ClusterNode> => {
      const name = await waitFor('a leader of the queue', () => cluster.leaderOf(te.queue), 60_000, 500);
      const node = cluster.nodes.find((n) => n.nodename === name)!;
      log(`stopping ${name}, the leader of ${te.queue}`);
      down.add(name);
      await node.stop();
      log(`${name} stopped`);
      await progress(`events counted after stopping ${name}`);
      return node;
    };

    const first = await stopLeader();
    if (opts.full) {
      log(`starting ${first.nodename} again`);
      await first.start();
      down.delete(first.nodename);
      await waitFor(
        `${first.nodename} back among the queue's online members`,
        async () => (await cluster.queueMembers(te.queue, up())).online.includes(first.nodename),
        90_000,
        1000,
      );
      log(`${first.nodename} is back`);
      await progress('events counted after the restart');
      const second = await stopLeader();
      assert.notEqual(second.nodename, first.nodename);
    }

    // Stop publishing: each client waits for its in-flight confirms, then prints "N confirmed".
    let confirmed = 0;
    const confirmedIds: string[] = [];
    for (const [i, c] of clients.entries()) {
      const code = await within(`client ${i + 1} to exit on SIGTERM`, 60_000, c.kill('SIGTERM'));
      assert.equal(code, 0, `client exit code; its output:\n${c.output().slice(-3000)}`);
      const m = /(\d+) confirmed\n$/.exec(c.stdout());
      assert.ok(m, `no "N confirmed" line: ${c.stdout()}`);
      confirmed += Number(m[1]);
      const ids = readIds(join(te.dir, `cliente_${i + 1}.ids`));
      assert.equal(ids.length, Number(m[1]), 'the --ids-out file holds every confirmed id');
      confirmedIds.push(...ids);
    }
    log(`clients confirmed ${confirmed} events`);
    await waitFor('every confirmed event counted', async () => (await total()) >= confirmed, 120_000, 250);
    await sleep(1000); // a late duplicate would show now
    assert.equal(await total(), confirmed, 'counted == confirmed, exactly');
    // By id: a loss and a duplicate under a new id would cancel out in the count above.
    const seen = await seenIds(te.dbPath);
    const { lost } = checkIds(confirmedIds, seen);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} confirmed ids were never counted`);
    assert.equal(seen.size, confirmed, 'as many distinct counted ids as counts');
    assert.equal(
      await within('analytics to exit on SIGTERM', 60_000, analytics.kill('SIGTERM')),
      0,
      `analytics on SIGTERM:\n${analytics.output().slice(-3000)}`,
    );
    await probe.stop();

    const conn = await amqp.connect(up().url);
    try {
      const ch = await conn.createChannel();
      assert.equal((await ch.checkQueue(te.queue)).messageCount, 0, 'nothing left in the queue');
      assert.equal((await ch.checkQueue(te.dlq)).messageCount, 0, 'nothing dead-lettered');
    } finally {
      await conn.close();
    }

    // The queue kept a leader on a running node: the longest stretch between two samples that
    // saw one stays short. It is an upper bound: a node counts as down from the moment it is
    // asked to stop, and a sample comes every 250 ms plus the time the nodes take to answer.
    // Samples before the first leader predate the queue (analytics declares it) and are skipped.
    const led = samples.findIndex((s) => s.leader);
    let gap = 0;
    let lastLed = samples[led]?.t ?? t0;
    for (const s of samples.slice(Math.max(0, led)))
      if (s.leader) {
        gap = Math.max(gap, s.t - lastLed);
        lastLed = s.t;
      }
    const retries = clients.map((c) => (c.output().match(RETRY_LINE) ?? []).length);
    const analyticsRetries = (analytics.output().match(RETRY_LINE) ?? []).length;
    log(`leaders seen (from, node): ${leaderRuns(samples, t0)}`);
    log(
      `${samples.length} leader samples (${failedPolls} polls failed), longest stretch without a leader on a running node ${gap} ms; reconnect lines per client ${JSON.stringify(retries)}, analytics ${analyticsRetries}`,
    );
    assert.ok(samples.filter((s) => s.leader).length >= 3, `the leader was sampled: ${probe.errors()}`);
    assert.ok(gap < 30_000, `the queue went ${gap} ms without a leader`);
    const stops = opts.full ? 2 : 1;
    for (const r of retries)
      assert.ok(r <= 3 * stops, `a client logged ${r} reconnect lines for ${stops} node stops`);
  } finally {
    await probe.stop();
    for (const p of procs) await p.kill('SIGKILL');
    rmSync(te.dir, { recursive: true, force: true });
  }
}
