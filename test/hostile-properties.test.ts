// AMQP properties are input too (CONTRACT.md, "Event"): hostile message_ids, content types and
// encodings, timestamps, headers of many types, empty, non-UTF-8 and oversized bodies, published
// with amqplib among valid events to a real analytics service on each store. Every valid event is
// counted (checked by id); each hostile message is counted or dead-lettered once, with a reason;
// nothing stops counting (a NUL in a message_id used to fail every PostgreSQL commit, forever).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import amqp from 'amqplib';
import type { Reporte } from '../src/analytics/index.js';
import { build } from '../src/analytics/service.js';
import { scan } from '../src/audit/deadletters.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MAX_BODY_BYTES } from '../src/topic.js';
import { declare } from '../src/topology.js';
import { AMQP_URL, freePort, getJson, queueDepth, testEnv, waitFor } from './support/helpers.js';
import { seenIds, testStore } from './support/ids.js';

const TS = '2025-04-13T12:00:00Z';
const event = (extra: Record<string, unknown>) =>
  JSON.stringify({ cliente: 'cliente_uno', evento: 'click', timestamp: TS, ...extra });

interface Message {
  body: Buffer | string;
  props: amqp.Options.Publish;
}

/** Counted (with the body id named, or without dedupe when undefined). */
const counted: { name: string; id?: string; msg: Message }[] = [
  { name: 'NUL in message_id', msg: { body: event({}), props: { messageId: 'a\u0000b' } } },
  { name: 'non-ASCII message_id', msg: { body: event({}), props: { messageId: 'ñandú-é' } } },
  { name: 'message_id over 128', msg: { body: event({}), props: { messageId: 'm'.repeat(200) } } },
  { name: 'control characters', msg: { body: event({}), props: { messageId: 'tab\tnew\nline\u001b[31m' } } },
  {
    name: 'content_type',
    id: 'h-ct',
    msg: { body: event({ id: 'h-ct' }), props: { contentType: 'image/png' } },
  },
  {
    name: 'content_encoding',
    id: 'h-ce',
    msg: { body: event({ id: 'h-ce' }), props: { contentEncoding: 'gzip' } },
  },
  {
    name: 'timestamp',
    id: 'h-ts',
    msg: { body: event({ id: 'h-ts' }), props: { timestamp: Number.MAX_SAFE_INTEGER } },
  },
  {
    name: 'headers of every type',
    id: 'h-hdr',
    msg: {
      body: event({ id: 'h-hdr' }),
      props: {
        headers: {
          table: { nested: { deeper: [1, 'two', { three: true }] } },
          array: [1, 2.5, 'x', null, Buffer.from([0, 255])],
          bool: false,
          nul: null,
          bytes: Buffer.from([0, 1, 254, 255]),
          big: 2 ** 52,
          negative: -1,
          float: 1.5,
          text: '\u0000\u00ff',
        },
      },
    },
  },
];

/** Dead-lettered once, with a reason matching. */
const deadLettered: { name: string; reason: RegExp; msg: Message }[] = [
  { name: 'empty body', reason: /^\(body\): must be UTF-8 JSON$/, msg: { body: '', props: {} } },
  {
    name: 'invalid UTF-8',
    reason: /not valid UTF-8$/,
    msg: {
      body: Buffer.concat([
        Buffer.from(event({ id: 'h-utf8' }).slice(0, -1)),
        Buffer.from([0x2c, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      ]),
      props: {},
    },
  },
  {
    name: 'huge body',
    reason: new RegExp(`at most ${MAX_BODY_BYTES} bytes`),
    msg: { body: event({ id: 'h-huge', pad: 'x'.repeat(2 * MAX_BODY_BYTES) }), props: {} },
  },
  {
    name: 'gzipped body',
    reason: /content_encoding "gzip" is not decoded/,
    msg: { body: gzipSync(event({ id: 'h-gz' })), props: { contentEncoding: 'gzip' } },
  },
  { name: 'JSON array', reason: /must be a JSON object/, msg: { body: '[]', props: { messageId: 'arr' } } },
];

const VALID = 60;

async function publishMixed(exchange: string): Promise<string[]> {
  const ids = Array.from({ length: VALID }, (_, i) => `v-${i}`);
  const hostile: Message[] = [...counted.map((c) => c.msg), ...deadLettered.map((d) => d.msg)];
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    ids.forEach((id, i) => {
      ch.publish(exchange, '', Buffer.from(event({ id })), { persistent: true, messageId: id });
      const h = hostile[i % 4 === 0 ? i / 4 : -1];
      if (h)
        ch.publish(exchange, '', Buffer.isBuffer(h.body) ? h.body : Buffer.from(h.body), {
          persistent: true,
          ...h.props,
        });
    });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
  return ids;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`hostile properties and bodies (${kind})`, () => {
    test('valid events are all counted; each hostile message is counted or dead-lettered once, with a reason', async () => {
      const env = testEnv('hostile');
      const db = await testStore(kind, env.dbPath, 'hostile');
      const port = await freePort();
      const config = loadConfig({ ...env.env, DATABASE_URL: db.url, ANALYTICS_PORT: String(port) });
      const analytics = build(config, createLogger('silent'));
      try {
        const conn = await amqp.connect(AMQP_URL);
        await declare(await conn.createChannel(), config, { audit: false });
        const ids = await publishMixed(env.exchange);
        await analytics.start();
        const expected = VALID + counted.length;
        const base = `http://127.0.0.1:${port}`;
        await waitFor(
          `${expected} counted, ${deadLettered.length} dead letters, the queue drained`,
          async () => {
            const r = await getJson<Reporte>(`${base}/reporte`);
            return (
              r.body.total === expected &&
              (await queueDepth(env.dlq)) === deadLettered.length &&
              (await queueDepth(env.queue)) === 0
            );
          },
          60_000,
        );
        // By id: every valid event and every hostile one with a body id, and no hostile
        // message_id taken as an id.
        const seen = await seenIds(db.url);
        for (const id of ids) assert.ok(seen.has(id), `valid event ${id} counted`);
        for (const c of counted) if (c.id) assert.ok(seen.has(c.id), `${c.name}: counted by its body id`);
        assert.equal(seen.size, VALID + counted.filter((c) => c.id).length, 'no other ids recorded');

        const status = await getJson<{ withoutId: number; deadLettersDetail: unknown }>(
          `${base}/api/v1/status`,
        );
        assert.equal(status.body.withoutId, counted.filter((c) => !c.id).length);
        assert.deepEqual(status.body.deadLettersDetail, {
          valid: 0,
          invalid: deadLettered.length,
          unscanned: 0,
        });

        // Each dead letter once, with its reason (dlq list's reading, from the same function).
        const ch = await conn.createChannel();
        const held = await scan(ch, env.dlq, 100);
        ch.nackAll(true);
        await conn.close();
        assert.equal(held.length, deadLettered.length);
        for (const d of deadLettered) {
          const hits = held.filter((h) => d.reason.test(h.info.reason));
          assert.equal(
            hits.length,
            1,
            `${d.name}: one dead letter with a matching reason; got ${held.map((h) => h.info.reason).join(' | ')}`,
          );
          assert.equal(hits[0]!.info.valid, false);
        }
      } finally {
        await analytics.close();
        await db.drop();
        await env.cleanup();
      }
    });
  });
}
