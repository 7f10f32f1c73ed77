// Publishes made in one synchronous run leave as one socket write (coalesceWrites in
// src/broker/connection.ts), and every one of them still arrives, in order.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import amqp from 'amqplib';
import { coalesceWrites } from '../src/broker/connection.js';
import { AMQP_URL, waitFor } from './support/helpers.js';

async function run(coalesce: boolean): Promise<{ writes: number; received: number[] }> {
  const conn = await amqp.connect(AMQP_URL, { noDelay: true });
  try {
    if (coalesce) coalesceWrites(conn);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const socket = (conn as unknown as { connection: { stream: Socket } }).connection.stream;
    const s = socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
    let writes = 0;
    for (const k of ['_write', '_writev'] as const) {
      const orig = s[k];
      s[k] = function (this: unknown, ...a: unknown[]) {
        writes++;
        return orig.apply(this, a);
      };
    }
    for (let i = 0; i < 200; i++) ch.sendToQueue(queue, Buffer.from(String(i)), { persistent: true });
    await ch.waitForConfirms();
    const counted = writes;
    await waitFor('200 messages in the queue', async () => (await ch.checkQueue(queue)).messageCount === 200);
    const received: number[] = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      received.push(Number(m.content.toString()));
    }
    return { writes: counted, received };
  } finally {
    await conn.close();
  }
}

test('a synchronous run of publishes is one socket write; all arrive in order', async () => {
  const plain = await run(false);
  const coalesced = await run(true);
  const all = Array.from({ length: 200 }, (_, i) => i);
  assert.deepEqual(plain.received, all);
  assert.deepEqual(coalesced.received, all);
  assert.ok(plain.writes >= 100, `without coalescing, about one write per message: ${plain.writes}`);
  assert.ok(coalesced.writes <= 10, `coalesced into a few writes: ${coalesced.writes}`);
});
