// `warren dlq replay` settles what it replayed exactly once, also in bulk: 300 valid dead letters
// interleaved with 30 invalid ones on the quorum DLQ; after `replay --all` the main queue holds
// each valid event once and the DLQ holds the invalid ones only (hundreds of single acks followed
// by the channel's close used to leave copies of replayed events in the DLQ).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import { AMQP_URL, queueDepth, testEnv, waitFor, warren } from './support/helpers.js';

test('replay --all of 300 valid among 30 invalid dead letters: each valid one leaves the DLQ once', async () => {
  const env = testEnv('replayset');
  const vars = { ...env.env };
  try {
    const topo = warren(['topology'], vars);
    assert.equal(await topo.exited, 0, topo.output());
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      for (let i = 0; i < 330; i++) {
        const body =
          i % 11 === 10
            ? `{"broken": ${i}`
            : JSON.stringify({
                id: `r-${i}`,
                cliente: 'cliente_uno',
                evento: 'click',
                timestamp: '2025-04-13T12:00:00Z',
              });
        ch.sendToQueue(env.dlq, Buffer.from(body), { persistent: true });
      }
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    // No store here (settling is the broker's side): --force, as the command asks without one.
    const replay = warren(['dlq', 'replay', '--all', '--force'], vars);
    assert.equal(await replay.exited, 0, replay.output());
    assert.match(replay.stdout(), /^300 replayed, 30 still invalid, 0 unroutable$/m);
    await waitFor('the main queue holds the 300', async () => (await queueDepth(env.queue)) === 300);
    await waitFor('the DLQ holds the 30 invalid ones only', async () => (await queueDepth(env.dlq)) === 30);
    const list = warren(['dlq', 'list', '--json'], vars);
    assert.equal(await list.exited, 0, list.output());
    const left = JSON.parse(list.stdout()) as { valid: boolean }[];
    assert.equal(left.length, 30);
    assert.ok(left.every((d) => !d.valid));
  } finally {
    await env.cleanup();
  }
});
