// Dead letters you can act on: a real analytics process dead-letters bad messages, a valid event
// reaches the DLQ through the queue's delivery limit, `warren dlq list` shows each with its reason
// and leaves the DLQ as it was, and `warren dlq replay` counts the valid one once and puts the
// invalid ones back exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqp from 'amqplib';
import type { Reporte } from '../src/analytics/index.js';
import type { DeadLetter } from '../src/audit/deadletters.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  publishRaw,
  queueDepth,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';

let env: TestEnv;
let vars: Record<string, string>;
let analytics: WarrenProcess | undefined;
let base = '';

async function run(args: string[]): Promise<{ code: number | null; stdout: string; output: string }> {
  const p = warren(args, vars);
  const code = await p.exited;
  return { code, stdout: p.stdout(), output: p.output() };
}

async function list(): Promise<DeadLetter[]> {
  const r = await run(['dlq', 'list', '--json']);
  assert.equal(r.code, 0, r.output);
  return JSON.parse(r.stdout) as DeadLetter[];
}

const total = async () => (await getJson<Reporte>(`${base}/reporte`)).body.total;
const event = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    cliente: 'cliente_uno',
    evento: 'click',
    timestamp: '2025-04-13T12:00:00Z',
    ...extra,
  });

/** Returns a valid event to its queue until the broker dead-letters it (x-death: delivery_limit). */
async function poison(id: string): Promise<void> {
  await publishRaw(env.exchange, [event(id)], { messageId: id, appId: 'cliente_uno' });
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    await waitFor('the delivery limit to dead-letter it', async () => {
      const msg = await ch.get(env.queue, { noAck: false });
      if (msg) ch.nack(msg, false, true);
      return (await queueDepth(env.dlq)) === 1;
    });
  } finally {
    await conn.close();
  }
}

before(async () => {
  env = testEnv('dlq');
  const port = await freePort();
  vars = { ...env.env, DELIVERY_LIMIT: '2', ANALYTICS_PORT: String(port) };
  base = `http://127.0.0.1:${port}`;
  assert.equal((await run(['topology'])).code, 0);
  await poison('poison-1');
  await publishRaw(env.exchange, ['{not json', event('ok-1'), event('ok-2')]);
  await publishRaw(env.exchange, [JSON.stringify({ evento: 'click', timestamp: '2025-04-13T12:00:00Z' })], {
    messageId: 'bad-cliente',
  });
  await publishRaw(env.exchange, [event('bad-ts', { timestamp: '13/04/2025' })]);
  analytics = warren(['analytics'], vars);
  await waitFor(
    'two counted, four dead letters',
    async () => (await total()) === 2 && (await queueDepth(env.dlq)) === 4,
  );
});

after(async () => {
  await analytics?.kill();
  await env.cleanup();
});

test('dlq list shows each dead letter with its reason, time and client, and leaves the DLQ as it was', async () => {
  const first = await list();
  assert.deepEqual(
    first.map((d) => [d.position, d.id, d.valid, d.death]),
    [
      [1, 'poison-1', true, 'delivery_limit'],
      [2, undefined, false, 'rejected'],
      [3, 'bad-cliente', false, 'rejected'],
      [4, 'bad-ts', false, 'rejected'],
    ],
  );
  assert.match(first[0]!.reason, /valid event.*delivery_limit/);
  assert.match(first[1]!.reason, /\(body\): must be UTF-8 JSON/);
  assert.match(first[2]!.reason, /^cliente: required/);
  assert.match(first[3]!.reason, /^timestamp: /);
  assert.equal(first[0]!.cliente, 'cliente_uno');
  assert.equal(first[3]!.cliente, 'cliente_uno');
  assert.equal(first[1]!.preview, '{not json');
  for (const d of first) assert.match(d.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await waitFor('the DLQ to hold all four again', async () => (await queueDepth(env.dlq)) === 4);
  // Listing again shows the same messages in the same places (no copies, no reordering).
  assert.deepEqual(await list(), first);

  const text = await run(['dlq', 'list']);
  assert.equal(text.code, 0, text.output);
  assert.match(text.stdout, /#3 {2}id=bad-cliente {2}cliente=\(unreadable\)/);
  assert.match(text.stdout, /reason: timestamp: /);
  assert.match(text.output, /4 dead letters in .*: 1 valid, replayable .*; 3 invalid/);
  assert.match(text.stdout, /#1 .*death=delivery_limit {2}\[valid, replayable\]/);
  assert.match(text.stdout, /#3 .*death=rejected {2}\[invalid\]/);
  // The status tells the replayable (valid) dead letters apart from the invalid ones.
  const status = await getJson<{ deadLetters: number; deadLettersDetail: unknown }>(`${base}/api/v1/status`);
  assert.equal(status.body.deadLetters, 4);
  assert.deepEqual(status.body.deadLettersDetail, { valid: 1, invalid: 3, unscanned: 0 });
  await waitFor(
    'the DLQ to hold all four after the status scan',
    async () => (await queueDepth(env.dlq)) === 4,
  );
  assert.deepEqual(await list(), first, 'the status scan left the DLQ as it was');
});

test('dlq replay: an invalid one stays, exactly once; a valid one is counted once and leaves', async () => {
  const stays = await run(['dlq', 'replay', '--id', 'bad-cliente']);
  assert.equal(stays.code, 0, stays.output);
  assert.match(stays.stdout, /#3 id=bad-cliente: still invalid, left in the DLQ: cliente: required/);
  assert.match(stays.stdout, /0 replayed, 1 still invalid, 0 unroutable/);
  assert.equal(await queueDepth(env.dlq), 4);

  const missing = await run(['dlq', 'replay', '--id', 'no-such-id']);
  assert.equal(missing.code, 1);
  assert.match(missing.output, /no dead letter matches --id no-such-id/);

  // By position, as `dlq list` numbers them.
  const one = await run(['dlq', 'replay', '--id', '#1']);
  assert.equal(one.code, 0, one.output);
  assert.match(one.stdout, /#1 id=poison-1: replayed/);
  await waitFor('the replayed event to be counted', async () => (await total()) === 3);
  assert.equal(await queueDepth(env.dlq), 3);

  const all = await run(['dlq', 'replay', '--all', '--json']);
  assert.equal(all.code, 0, all.output);
  const result = JSON.parse(all.stdout) as { replayed: DeadLetter[]; invalid: DeadLetter[] };
  assert.equal(result.replayed.length, 0);
  assert.deepEqual(
    result.invalid.map((d) => d.id),
    [undefined, 'bad-cliente', 'bad-ts'],
  );
  const left = await list();
  assert.deepEqual(
    left.map((d) => [d.position, d.id ?? null, d.valid]),
    [
      [1, null, false],
      [2, 'bad-cliente', false],
      [3, 'bad-ts', false],
    ],
  );
  // Let analytics drain whatever replay sent (nothing should be pending), then check the totals.
  await waitFor('the main queue to be empty', async () => (await queueDepth(env.queue)) === 0);
  assert.equal(await total(), 3);
  const status = await getJson<{ deadLetters: number }>(`${base}/api/v1/status`);
  assert.equal(status.body.deadLetters, 3);
});
