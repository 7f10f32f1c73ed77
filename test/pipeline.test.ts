// The pipeline core end to end against the real RabbitMQ: simulated clients → exchange → queue →
// analytics → store, with re-publications, poison messages and a killed consumer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import type { Reporte, Status } from '../src/analytics/index.js';
import { parseBody } from '../src/event.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  publishRaw,
  queueDepth,
  startWarren,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { checkIds, readIds, seenIds } from './support/ids.js';

/** 50 messages of many kinds that can never be counted. */
export function poisonBodies(n: number): string[] {
  const kinds = [
    'not json',
    '{"cliente": "a", "evento": "b"',
    '[]',
    'null',
    '42',
    '{"evento": "click", "timestamp": "2025-04-13T12:00:00Z"}',
    '{"cliente": "a", "timestamp": "2025-04-13T12:00:00Z"}',
    '{"cliente": "a", "evento": "click"}',
    '{"cliente": "a b", "evento": "click", "timestamp": "2025-04-13T12:00:00Z"}',
    '{"cliente": "a", "evento": "click", "timestamp": "2025-04-13 noon"}',
    '{"cliente": "a", "evento": "click", "timestamp": "2025-04-13T12:00:00"}',
    `{"cliente": "${'x'.repeat(65)}", "evento": "click", "timestamp": "2025-04-13T12:00:00Z"}`,
    '{"cliente": 7, "evento": "click", "timestamp": "2025-04-13T12:00:00Z"}',
    '{"cliente": "a", "evento": "click", "timestamp": "2025-04-13T12:00:00Z", "id": ""}',
    '{"__proto__": {"cliente": "a"}, "evento": "click", "timestamp": "2025-04-13T12:00:00Z"}',
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!);
}

/** Bodies held in a dead-letter queue, read without taking them (closing unacked puts them back). */
async function dlqBodies(dlq: string): Promise<string[]> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const out: string[] = [];
    for (let m = await ch.get(dlq, { noAck: false }); m; m = await ch.get(dlq, { noAck: false }))
      out.push(m.content.toString());
    return out;
  } finally {
    await conn.close();
  }
}

function startAnalytics(env: TestEnv, port: number): Promise<WarrenProcess> {
  return startWarren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) }, `http://127.0.0.1:${port}`);
}

async function runClient(env: TestEnv, name: string, count: number, idsOut?: string): Promise<void> {
  const ids = idsOut ? ['--ids-out', idsOut] : [];
  const c = warren(['client', '--name', name, '--rate', '0', '--count', String(count), ...ids], env.env);
  const code = await c.exited;
  assert.equal(code, 0, c.output());
  assert.match(c.stdout().trim().split('\n').at(-1) ?? '', new RegExp(`^${count} confirmed$`));
}

describe('pipeline core', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('pipe');
  });
  after(async () => {
    await env.cleanup();
  });

  it('counts 10,000 events exactly, drops 1,000 re-publications, dead-letters 50 poison messages', async () => {
    const port = await freePort();
    const analytics = await startAnalytics(env, port);
    try {
      // A tap queue on the fanout exchange sees every event, so the test can re-publish real ids.
      const conn = await amqp.connect(AMQP_URL);
      const ch = await conn.createChannel();
      const tap = `${env.id}.tap`;
      await ch.assertQueue(tap, { durable: false, autoDelete: false });
      await ch.bindQueue(tap, env.exchange, '');
      const clients = ['cliente_uno', 'cliente_dos', 'cliente_tres', 'cliente_cuatro'];
      await Promise.all(clients.map((name) => runClient(env, name, 2500)));
      const again: Buffer[] = [];
      const props: amqp.Options.Publish[] = [];
      while (again.length < 1000) {
        const m = await ch.get(tap, { noAck: true });
        assert.ok(m, 'the tap queue ran dry');
        if (!m) break;
        again.push(m.content);
        props.push({ messageId: m.properties.messageId });
      }
      await ch.deleteQueue(tap);
      await conn.close();
      await publishRaw(env.exchange, again);
      await publishRaw(env.exchange, poisonBodies(50));

      const status = await waitFor(
        'all counted',
        async () => {
          const s = (await getJson<Status>(`http://127.0.0.1:${port}/api/v1/status`)).body;
          return s.processed + s.duplicates + s.invalid >= 11_050 && s.deadLetters === 50 ? s : undefined;
        },
        60_000,
      );
      assert.equal(status.processed, 10_000);
      assert.equal(status.duplicates, 1000);
      assert.equal(status.invalid, 50);
      assert.equal(status.deadLetters, 50);
      assert.equal(status.queue.messages, 0);

      const rep = (await getJson<Reporte>(`http://127.0.0.1:${port}/reporte`)).body;
      assert.deepEqual(rep, { total: 10_000, clientes: Object.fromEntries(clients.map((c) => [c, 2500])) });

      // Each dead letter is there once, and the schema still explains why.
      const dconn = await amqp.connect(AMQP_URL);
      const dch = await dconn.createChannel();
      const seen: string[] = [];
      for (;;) {
        const m = await dch.get(env.dlq, { noAck: false });
        if (!m) break;
        const r = parseBody(m.content);
        assert.equal(r.ok, false);
        const death = (m.properties.headers?.['x-death'] as { reason: string }[] | undefined)?.[0];
        assert.equal(death?.reason, 'rejected');
        seen.push(m.content.toString());
      }
      await dconn.close(); // closing without ack puts them back
      assert.deepEqual(seen.sort(), poisonBodies(50).sort());
    } finally {
      await analytics.kill();
    }
  });
});

describe('pipeline under SIGKILL', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('kill');
  });
  after(async () => {
    await env.cleanup();
  });

  it('keeps exact counts and dead-letters each poison message once while analytics is killed repeatedly', async (t) => {
    const port = await freePort();
    // Small batches make a kill land between commit and ack more often.
    const aEnv = { ...env, env: { ...env.env, BATCH_SIZE: '50', PREFETCH: '200' } };
    let analytics = await startAnalytics(aEnv, port);
    // Whatever fails, the last analytics process does not outlive the test (nor hold up the file).
    t.after(() => analytics.kill());
    const expected: Record<string, number> = { k_uno: 15_000, k_dos: 15_000 };
    const idsFiles = Object.keys(expected).map((c) => join(env.dir, `${c}.ids`));
    const runs = [runClient(env, 'k_uno', 15_000, idsFiles[0]), runClient(env, 'k_dos', 15_000, idsFiles[1])];
    let running = runs.length;
    const track = (run: Promise<void>) =>
      run.then(
        () => running--,
        () => running--,
      );
    runs.forEach(track);
    // The load may end before the kills do (a fast machine drains 30,000 quickly): then one more
    // client sends another 5,000, so every kill still hits a consumer mid-stream.
    const moreLoad = async () => {
      if (running > 0 || (await queueDepth(env.queue)) > 0) return;
      const name = `k_mas${Object.keys(expected).length - 1}`;
      expected[name] = 5_000;
      idsFiles.push(join(env.dir, `${name}.ids`));
      const run = runClient(env, name, 5_000, idsFiles.at(-1));
      running++;
      runs.push(run);
      track(run);
    };
    const poison = publishRaw(env.exchange, poisonBodies(45));
    let kills = 0;
    let lastProcessed = -1;
    // Known ids skipped by the next process: a kill landed between a commit and its ack.
    let skipped = 0;
    const status = async () => (await getJson<Status>(`http://127.0.0.1:${port}/api/v1/status`)).body;
    // 5 kills, and more (up to 15) until one landed in that window: it must be exercised.
    while (kills < 5 || (skipped === 0 && kills < 15)) {
      // Kill only once it is counting again, so each kill hits a live consumer mid-stream.
      await waitFor(
        'progress before kill',
        async () => {
          const s = (await getJson<Status>(`http://127.0.0.1:${port}/api/v1/status`)).body;
          if (s.processed > 0 && s.processed !== lastProcessed) return true;
          await moreLoad();
          return false;
        },
        60_000,
        50,
      );
      skipped += (await status()).duplicates;
      analytics.child.kill('SIGKILL');
      await analytics.exited;
      kills++;
      analytics = await startAnalytics(aEnv, port);
      lastProcessed = 0;
    }
    await Promise.all([...runs, poison]);
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    try {
      const rep = await waitFor(
        'drained',
        async () => {
          const r = (await getJson<Reporte>(`http://127.0.0.1:${port}/reporte`)).body;
          const depth = await queueDepth(env.queue);
          return r.total >= total && depth === 0 ? r : undefined;
        },
        120_000,
        200,
      );
      assert.deepEqual(rep, { total, clientes: expected });
      // By id: every confirmed id counted, and as many counts as distinct counted ids.
      const confirmed = idsFiles.flatMap(readIds);
      assert.equal(confirmed.length, total);
      const seen = await seenIds(env.dbPath);
      const { lost } = checkIds(confirmed, seen);
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} confirmed ids were never counted`);
      assert.equal(seen.size, rep.total, 'an id was counted twice, or a count has no confirmed id');
      // The dead letters are the poison messages themselves, each once (not just 45 of something).
      await waitFor('dead letters', async () => (await queueDepth(env.dlq)) >= 45, 30_000);
      assert.deepEqual((await dlqBodies(env.dlq)).sort(), poisonBodies(45).sort());
      skipped += (await status()).duplicates;
      assert.ok(kills >= 5);
      assert.ok(skipped > 0, `no kill landed between a commit and its ack in ${kills} kills`);
    } finally {
      await analytics.kill();
    }
  });
});
