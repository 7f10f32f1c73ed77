// Broker faults on a RabbitMQ node of this test's own (test/support/broker-node.ts): while it is down or
// blocks publishers, ingest answers 503 within the deadline and never 202; once it is back, new
// requests succeed without restarting ingest; a client retrying its 503s with the same
// Idempotency-Key ends with every accepted id counted exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Reporte } from '../src/analytics/index.js';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { build as buildIngest, type Ingest } from '../src/ingest/service.js';
import { createLogger } from '../src/log.js';
import { type BrokerNode, startBrokerNode } from './support/broker-node.js';
import { getJson, sleep, testEnv, waitFor } from './support/helpers.js';
import { LOG_LEVEL } from './support/ingest-fixture.js';

const DEADLINE_MS = 1500;
const PER_REQUEST = 10;

interface Attempt {
  n: number;
  start: number;
  end: number;
  status: number;
}

/** A client that keeps posting batches and retries each 503 with the same Idempotency-Key. */
class RetryingSender {
  readonly attempts: Attempt[] = [];
  readonly accepted = new Set<string>();
  private next = 0;
  private readonly retry: number[] = [];
  private stopping = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly ingest: Ingest) {}

  start(concurrency: number): void {
    this.workers = Array.from({ length: concurrency }, () => this.work());
  }

  /** Stops taking new requests and resolves once every request begun got its 202. */
  async finish(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  get requests(): number {
    return this.next;
  }

  private async work(): Promise<void> {
    for (;;) {
      const n = this.retry.shift() ?? (this.stopping ? undefined : this.next++);
      if (n === undefined) return;
      const start = Date.now();
      const res = await this.ingest.app.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': 'application/json', 'idempotency-key': `req-${n}` },
        payload: JSON.stringify(
          Array.from({ length: PER_REQUEST }, () => ({ cliente: 'cliente_uno', evento: 'e' })),
        ),
      });
      this.attempts.push({ n, start, end: Date.now(), status: res.statusCode });
      if (res.statusCode === 202) {
        for (const id of (JSON.parse(res.body) as { ids: string[] }).ids) this.accepted.add(id);
      } else {
        assert.equal(res.statusCode, 503, res.body);
        this.retry.push(n);
        // Pacing for a load generator (not a wait for a condition): a client backs off after a 503.
        await sleep(50);
      }
    }
  }
}

let node: BrokerNode;
before(async () => {
  node = await startBrokerNode('warren_ingest');
});
after(async () => {
  await node?.destroy();
});

async function startPair(t: import('node:test').TestContext) {
  const te = testEnv('ingest_fault');
  const env = { ...te.env, AMQP_URL: node.url, LOG_LEVEL, ANALYTICS_PORT: '0' };
  const ingest = buildIngest(
    loadConfig({ ...env, PUBLISH_TIMEOUT_MS: String(DEADLINE_MS) }),
    createLogger(LOG_LEVEL, 'ingest'),
  );
  const analytics = buildAnalytics(loadConfig(env), createLogger(LOG_LEVEL, 'analytics'));
  t.after(async () => {
    await ingest.close();
    await analytics.close();
    await te.cleanup();
  });
  ingest.connect();
  const port = await analytics.start();
  await waitFor('ingest connected', () => ingest.publisher.ready, 30_000);
  const reporte = async () => (await getJson<Reporte>(`http://127.0.0.1:${port}/reporte`)).body.total;
  const readyz = async () => (await ingest.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
  return { ingest, reporte, readyz };
}

async function countedExactly(sender: RetryingSender, reporte: () => Promise<number>): Promise<void> {
  await sender.finish();
  assert.equal(sender.accepted.size, sender.requests * PER_REQUEST, 'every request ended accepted');
  // Every id ever published is one of the accepted ids (retries reuse them), so a total equal to
  // their number means each was counted once: none lost, none twice.
  const total = await waitFor(
    'analytics to count every accepted id',
    async () => {
      const n = await reporte();
      return n >= sender.accepted.size && n;
    },
    60_000,
  );
  assert.equal(total, sender.accepted.size);
}

test('broker stopped and started again: 503s within the deadline, then 202s, counted once', async (t) => {
  const { ingest, reporte, readyz } = await startPair(t);
  const sender = new RetryingSender(ingest);
  sender.start(4);
  await waitFor('some accepted requests', () => sender.accepted.size >= 20 * PER_REQUEST, 30_000);

  await node.stop();
  const down = Date.now();
  await waitFor(
    '503s while the broker is down',
    () => sender.attempts.filter((a) => a.start >= down && a.status === 503).length >= 20,
  );
  assert.equal(await readyz(), 503);
  const up = Date.now();
  await node.start();
  await waitFor(
    'a new request accepted after the broker came back',
    () => sender.attempts.some((a) => a.start > up && a.status === 202),
    60_000,
  );
  assert.equal(await readyz(), 200);

  const during = sender.attempts.filter((a) => a.start >= down && a.end <= up);
  assert.ok(during.length >= 20);
  assert.deepEqual(
    during.filter((a) => a.status !== 503),
    [],
    'no 202 while the broker was down',
  );
  const slow = during.filter((a) => a.end - a.start > DEADLINE_MS + 500);
  assert.deepEqual(slow, [], 'every 503 came within the deadline');
  await countedExactly(sender, reporte);
});

test('broker blocks publishers (memory alarm): confirms come late, 503 at the deadline, counted once', async (t) => {
  const { ingest, reporte } = await startPair(t);
  const sender = new RetryingSender(ingest);
  sender.start(2);
  await waitFor('some accepted requests', () => sender.accepted.size >= 10 * PER_REQUEST, 30_000);
  // A watermark of 0 raises the memory alarm at once: the broker stops reading from publishers.
  await node.ctl('set_vm_memory_high_watermark', '0');
  const blocked = Date.now();
  // Taken before the alarm is lifted: requests keep flowing while rabbitmqctl runs.
  let released = Date.now();
  try {
    await waitFor(
      '503s at the deadline while blocked',
      () => sender.attempts.filter((a) => a.start >= blocked && a.status === 503).length >= 4,
    );
  } finally {
    released = Date.now();
    await node.ctl('set_vm_memory_high_watermark', '0.4');
  }
  const during = sender.attempts.filter((a) => a.start >= blocked + 200 && a.end <= released);
  assert.deepEqual(
    during.filter((a) => a.status === 202),
    [],
    'no 202 while blocked',
  );
  assert.ok(
    during.some((a) => a.end - a.start >= DEADLINE_MS - 50),
    'some waited for the confirm deadline (published, not confirmed)',
  );
  assert.ok(
    during.every((a) => a.end - a.start <= DEADLINE_MS + 500),
    'none waited past the deadline',
  );
  await waitFor(
    'accepted again',
    () => sender.attempts.some((a) => a.start > released && a.status === 202),
    30_000,
  );
  await countedExactly(sender, reporte);
});
