// A field table nested ~8,000 deep in a message's headers is accepted by the broker, but amqplib's
// recursive decoder overflows the stack on it and closes the whole connection: the consumer used
// to reconnect, get it back with its whole prefetch window, and loop until the delivery limit
// dead-lettered it with the valid events around it. Published among valid events to a real
// analytics process on each store: every valid event is counted once (by id), the deep one is
// counted by its body (or dead-lettered once when its body is invalid), and the consumer's
// connection is never dropped. The audit process records them all, and `warren dlq list` reads the
// dead letter back: every process that consumes is guarded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { Reporte } from '../src/analytics/index.js';
import { loadConfig } from '../src/config.js';
import { declare } from '../src/topology.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  queueDepth,
  ROOT,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { seenIds, testStore } from './support/ids.js';

const DEPTH = 8000;
const VALID = 40;
const event = (extra: Record<string, unknown>) =>
  JSON.stringify({ cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T12:00:00Z', ...extra });

// amqplib's encoder recurses too: only a child with a larger stack can publish such headers.
const PUBLISHER = `
const amqp = require('amqplib');
(async () => {
  let h = { v: 1 };
  for (let i = 0; i < Number(process.env.DEPTH); i++) h = { a: h };
  const conn = await amqp.connect(process.env.AMQP_URL);
  const ch = await conn.createConfirmChannel();
  for (const body of JSON.parse(process.env.BODIES))
    ch.publish(process.env.EXCHANGE, '', Buffer.from(body), { persistent: true, headers: h });
  await ch.waitForConfirms();
  await conn.close();
})().catch((err) => { console.error(err); process.exit(1); });
`;

async function publishDeep(exchange: string, bodies: string[]): Promise<void> {
  await promisify(execFile)(process.execPath, ['--stack-size=50000', '-e', PUBLISHER], {
    cwd: ROOT,
    env: {
      ...process.env,
      AMQP_URL,
      EXCHANGE: exchange,
      DEPTH: String(DEPTH),
      BODIES: JSON.stringify(bodies),
    },
  });
}

async function publishValid(exchange: string, ids: string[]): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    for (const id of ids)
      ch.publish(exchange, '', Buffer.from(event({ id })), { persistent: true, messageId: id });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`headers nested ${DEPTH} deep (${kind})`, () => {
    test('valid events around them are counted once by id, the deep ones by their body, and the consumer connection is never dropped', async () => {
      const env = testEnv('deephdr');
      const db = await testStore(kind, env.dbPath, 'deephdr');
      const port = await freePort();
      const vars = { ...env.env, AUDIT: 'true', DATABASE_URL: db.url, ANALYTICS_PORT: String(port) };
      let analytics: WarrenProcess | undefined;
      let audit: WarrenProcess | undefined;
      try {
        const conn = await amqp.connect(AMQP_URL);
        await declare(await conn.createChannel(), loadConfig(vars), { audit: true });
        await conn.close();
        // The deep messages sit in the middle of the backlog, in one prefetch window with valid events.
        const ids = Array.from({ length: VALID }, (_, i) => `v-${i}`);
        await publishValid(env.exchange, ids.slice(0, VALID / 2));
        await publishDeep(env.exchange, [event({ id: 'deep-valid' }), '{"not":"an event"}']);
        await publishValid(env.exchange, ids.slice(VALID / 2));
        assert.equal(await queueDepth(env.queue), VALID + 2, 'the broker accepted the deep headers');

        analytics = warren(['analytics'], vars);
        audit = warren(['audit'], vars);
        const base = `http://127.0.0.1:${port}`;
        const expected = VALID + 1;
        await waitFor(
          `${expected} counted, 1 dead letter, the queue drained`,
          async () => {
            const r = await getJson<Reporte>(`${base}/reporte`);
            return (
              r.body.total === expected &&
              (await queueDepth(env.dlq)) === 1 &&
              (await queueDepth(env.queue)) === 0
            );
          },
          60_000,
        );
        const seen = await seenIds(db.url);
        for (const id of ids) assert.ok(seen.has(id), `valid event ${id} counted`);
        assert.ok(seen.has('deep-valid'), 'the deep message with a valid body counted by its id');
        assert.equal(seen.size, expected, 'no other ids recorded');

        // The dead-letter census reads the deep message back from the DLQ in the same process.
        const status = await waitFor(
          'the dead letter read back',
          async () => {
            const s = await getJson<{ deadLettersDetail?: { invalid: number } }>(`${base}/api/v1/status`);
            return s.body.deadLettersDetail?.invalid === 1 ? s.body : undefined;
          },
          60_000,
        );
        assert.deepEqual(status.deadLettersDetail, { valid: 0, invalid: 1, unscanned: 0 });

        const list = warren(['dlq', 'list', '--json'], vars);
        assert.equal(await list.exited, 0, list.output());
        const listed = JSON.parse(list.stdout()) as { valid: boolean; reason: string }[];
        assert.equal(listed.length, 1);
        assert.equal(listed[0]!.valid, false);
        assert.match(listed[0]!.reason, /cliente|evento|timestamp/);

        const dir = env.env.AUDIT_DIR!;
        const recorded = await waitFor(
          `${VALID + 2} audit records`,
          () => {
            const lines = readdirSync(dir)
              .filter((f) => f.endsWith('.ndjson'))
              .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
            return lines.length === VALID + 2 ? lines : undefined;
          },
          60_000,
        );
        assert.equal(recorded.filter((l) => l.includes('"deep-valid"')).length, 1);

        for (const p of [analytics, audit]) {
          const log = p.output();
          assert.equal(log.match(/connected to RabbitMQ/g)?.length, 1, `one connection only; log:\n${log}`);
          assert.doesNotMatch(log, /lost the RabbitMQ connection|broker connection error/);
        }
      } finally {
        await analytics?.kill();
        await audit?.kill();
        await db.drop();
        await env.cleanup();
      }
    });
  });
}
