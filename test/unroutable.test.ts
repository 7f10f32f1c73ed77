// "Confirmed" means a queue holds the event (CONTRACT.md, RabbitMQ topology): with the analytics
// queue unbound and then deleted while a client streams, every id the client got confirmed is
// counted, once. Without `mandatory` the broker confirms what it routes nowhere and drops it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import pino from 'pino';
import { build } from '../src/clients/simulated.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { amqpTransport } from '../src/sdk/amqp.js';
import {
  AMQP_URL,
  freePort,
  queueDepth,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { seenIds } from './support/ids.js';
import { report, startAnalytics } from './support/sdk-stack.js';

const TOTAL = 12_000;

/**
 * Deletes a queue without losing what it holds: a holding queue takes the stream while the test
 * empties the queue itself (the ids it takes go to `taken`), then deletes it and unbinds the
 * holding queue, so the exchange routes nowhere until someone declares the queue again.
 */
async function deleteQueueMidStream(env: TestEnv, hold: string, taken: Set<string>): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(hold, { durable: true });
    await ch.bindQueue(hold, env.exchange, '');
    await ch.unbindQueue(env.queue, env.exchange, '');
    await ch.consume(env.queue, (m) => m && taken.add(m.properties.messageId as string), { noAck: true });
    await waitFor(
      'the queue emptied',
      async () => (await ch.checkQueue(env.queue)).messageCount === 0,
      30_000,
      20,
    );
    // Deliveries the queue sent before it went arrive on this channel before delete-ok.
    await ch.deleteQueue(env.queue);
    await ch.unbindQueue(hold, env.exchange, '');
    await ch.close();
  } finally {
    await conn.close();
  }
}

/** Takes every message of a queue (ids to `taken`) and deletes it. */
async function takeAll(queue: string, taken: Set<string>): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true }))
      taken.add(m.properties.messageId as string);
    await ch.deleteQueue(queue);
  } finally {
    await conn.close();
  }
}

describe('unroutable publishes', () => {
  let env: TestEnv;
  let analytics: WarrenProcess | undefined;
  before(() => {
    env = testEnv('unr');
  });
  after(async () => {
    await analytics?.kill();
    const conn = await amqp.connect(AMQP_URL);
    await (await conn.createChannel()).deleteQueue(`${env.id}.hold`); // a missing queue is fine
    await conn.close();
    await env.cleanup();
  });

  it('counts every confirmed id although the queue is unbound, then deleted, mid-stream', {
    timeout: 300_000,
  }, async () => {
    const port = await freePort();
    analytics = await startAnalytics(env, port);
    const config = loadConfig({ ...process.env, ...env.env, LOG_LEVEL: 'warn' });
    const confirmed: string[] = [];
    const taken = new Set<string>();
    const marks: Record<string, number> = {};
    const hold = `${env.id}.hold`;
    const client = build(config, createLogger('warn'), {
      name: 'unr_uno',
      rate: 1500,
      count: TOTAL,
      events: ['click', 'view'],
      chunk: 50,
      onConfirmed: (ids) => confirmed.push(...ids),
    });
    const more = async (n: number) => {
      const at = confirmed.length;
      await waitFor(`${n} more confirmed`, () => confirmed.length >= at + n, 60_000, 10);
    };
    await client.start();
    const conn = await amqp.connect(AMQP_URL);
    try {
      await more(2000);
      // Unbound while analytics consumes: nothing routes to the queue until it is bound again.
      const ch = await conn.createChannel();
      marks.unbind = confirmed.length;
      await ch.unbindQueue(env.queue, env.exchange, '');
      await ch.close();
      await more(2000);
      // Deleted while the client streams (analytics stopped, so the queue can be emptied exactly).
      marks.kill = confirmed.length;
      await analytics.kill('SIGTERM');
      marks.delete = confirmed.length;
      await deleteQueueMidStream(env, hold, taken);
      marks.deleted = confirmed.length;
      await more(2000);
      assert.ok(confirmed.length < TOTAL - 1000, 'the queue went away before the stream ended');
      analytics = await startAnalytics(env, port);
      assert.equal(await client.done, TOTAL);
    } finally {
      await client.close();
      await conn.close();
    }
    assert.equal(confirmed.length, TOTAL);
    assert.equal(new Set(confirmed).size, TOTAL);
    await takeAll(hold, taken);

    const expected = TOTAL - taken.size;
    // Counted >= expected, or a deadline: then the assertion below names what is missing.
    await waitFor('all counted', async () => (await report(port)).total >= expected, 60_000, 200).catch(
      () => undefined,
    );
    const seen = await seenIds(env.dbPath);
    const lost = confirmed.filter((id) => !seen.has(id) && !taken.has(id));
    const where = lost.slice(0, 5).map((id) => confirmed.indexOf(id));
    assert.deepEqual(
      lost.slice(0, 5),
      [],
      `${lost.length} confirmed ids were never counted (positions ${where}; ${JSON.stringify(marks)})`,
    );
    assert.equal(await queueDepth(env.queue), 0);
    assert.deepEqual(await report(port), { total: seen.size, clientes: { unr_uno: seen.size } });
    assert.equal(seen.size, expected, 'an id the test took from the deleted queue was counted too');
  });
});

describe('unroutable publishes over the SDK', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('unrsdk');
  });
  after(async () => {
    await env.cleanup();
  });

  it('holds the events while no queue is bound, and confirms them once one is', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const transport = amqpTransport({ amqpUrl: AMQP_URL, exchange: env.exchange, log });
    const events = Array.from({ length: 10 }, (_, i) => ({
      id: `${env.id}-${i}`,
      cliente: 'unr_sdk',
      evento: 'click',
      timestamp: new Date().toISOString(),
    }));
    let confirmed = false;
    const sent = transport.send(events, new AbortController().signal).then(() => {
      confirmed = true;
    });
    try {
      // The SDK declares only the exchange: the broker returns the events, which are not confirmed.
      await waitFor(
        'a return',
        () => lines.some((l) => l.includes('returned events no queue takes')),
        30_000,
      );
      assert.equal(confirmed, false);
      const topo = warren(['topology'], env.env);
      assert.equal(await topo.exited, 0, topo.output());
      await sent;
      const ids = new Set<string>();
      await takeAll(env.queue, ids);
      assert.deepEqual([...ids].sort(), events.map((e) => e.id).sort());
    } finally {
      await transport.close();
    }
  });
});
