// A channel that closes with publishes unconfirmed must not forget them. amqplib's close handler
// (lib/channel.js, `while (cb = this.unconfirmed.shift())`) fails the unconfirmed callbacks only
// up to the first hole in its window, a message the broker confirmed out of order (a `null`
// entry), so the callbacks after it are never called. The publisher used to clear what it had
// sent when the next channel opened: those publishes never resolved, and a reconcile report left
// that way made every later ingest 202 wait for it (503 until a restart). The hole is made here
// directly in amqplib's window, then the connection is cut before any confirm can arrive.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import amqp from 'amqplib';
import { BrokerConnection, ConfirmedPublisher } from '../src/broker/index.js';
import { createLogger } from '../src/log.js';
import { AMQP_URL, testEnv, waitFor } from './support/helpers.js';

const N = 50;

/** A queue bound to an exchange of its own, and a started publisher to it with a channel open. */
async function setup(name: string) {
  const te = testEnv(name);
  const admin = await amqp.connect(AMQP_URL);
  const ach = await admin.createChannel();
  await ach.assertExchange(te.exchange, 'fanout', { durable: false, autoDelete: false });
  await ach.assertQueue(te.queue, { durable: false });
  await ach.bindQueue(te.queue, te.exchange, '');
  const log = createLogger('silent');
  const broker = new BrokerConnection({ urls: [AMQP_URL], log, name: `${name}-test` });
  const pub = new ConfirmedPublisher(broker, {
    exchange: te.exchange,
    window: 1000,
    maxPending: 10_000,
    failFast: false,
    log,
  });
  const cleanup = async () => {
    await pub.close().catch(() => undefined);
    await broker.close().catch(() => undefined);
    await ach.deleteQueue(te.queue).catch(() => undefined);
    await ach.deleteExchange(te.exchange).catch(() => undefined);
    await admin.close().catch(() => undefined);
  };
  broker.start();
  await waitFor('the publisher has a channel', () => pub.ready, 20_000, 20).catch(async (err) => {
    await cleanup();
    throw err;
  });
  return { te, ach, pub, cleanup };
}

test('publishes a closing channel never answered are sent again on the next one, and resolve', async () => {
  const { te, ach, pub, cleanup } = await setup('lostcb');
  try {
    const ch = (pub as unknown as { channel: { unconfirmed: unknown[]; connection: { stream: Socket } } })
      .channel;
    const done = pub.publishRaw(
      Array.from({ length: N }, (_, i) => ({ body: Buffer.from(String(i)), props: { messageId: `m${i}` } })),
    );
    // Same tick: nothing has been confirmed yet. A hole at the front of amqplib's window, then
    // the socket cut, so its close handler stops at the hole and calls none of the N callbacks.
    ch.unconfirmed.unshift(null);
    ch.connection.stream.destroy(new Error('connection cut by the test'));
    let resolved = false;
    void done.then(() => {
      resolved = true;
    });
    await waitFor('every publish resolved after the reconnect', () => resolved, 20_000, 20);
    assert.equal(pub.pending, 0);
    await waitFor(
      `${N} distinct messages in the queue`,
      async () => (await ach.checkQueue(te.queue)).messageCount >= N,
      20_000,
      100,
    );
    const seen = new Set<string>();
    for (;;) {
      const m = await ach.get(te.queue, { noAck: true });
      if (!m) break;
      seen.add(m.content.toString());
    }
    assert.equal(seen.size, N);
  } finally {
    await cleanup();
  }
});

// A publish made while the channel is closing (amqplib has stopped sending on it, its close event
// has not come yet) throws in amqplib. The publisher kept the message for the next channel, but
// went on sending on the closing one in the same loop (the same message again, forever: the
// process hung), and amqplib had already registered a confirm callback for the message it never
// sent, which its close handler then failed: the message was queued a second time.
test('a publish on a closing channel waits for the next channel and is sent there once', async () => {
  const { te, ach, pub, cleanup } = await setup('closingch');
  try {
    const ch = (pub as unknown as { channel: { close(): Promise<void> } }).channel;
    const closing = ch.close(); // amqplib stops sending at once; 'close' follows the broker's CloseOk
    const done = pub.publishRaw(
      Array.from({ length: N }, (_, i) => ({ body: Buffer.from(String(i)), props: { messageId: `m${i}` } })),
    );
    await closing;
    let resolved = false;
    void done.then(() => {
      resolved = true;
    });
    await waitFor('every publish resolved on the next channel', () => resolved, 20_000, 20);
    assert.equal(pub.pending, 0);
    await waitFor(
      `${N} messages in the queue`,
      async () => (await ach.checkQueue(te.queue)).messageCount >= N,
      20_000,
      100,
    );
    // Every confirm has come (done resolved) and nothing is left to send: no copy is on its way.
    const bodies: string[] = [];
    for (;;) {
      const m = await ach.get(te.queue, { noAck: true });
      if (!m) break;
      bodies.push(m.content.toString());
    }
    assert.equal(bodies.length, N, `each message once (got ${bodies.length})`);
    assert.equal(new Set(bodies).size, N);
  } finally {
    await cleanup();
  }
});
