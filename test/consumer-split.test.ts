// A batch the store refuses for a reason tied to one message is split until the culprit is alone:
// the culprit is dead-lettered with the store's error, the rest commit. A store that is down (no
// ping) or fails on its own (deadlock, I/O) is retried whole and nothing is dead-lettered. A
// retried batch never counts twice what a split already committed (events without an id too).
// A real SQLite store underneath; a test-only wrapper injects the faults.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import pino from 'pino';
import { AnalyticsHandler } from '../src/analytics/consumer.js';
import { createMetrics } from '../src/analytics/metrics.js';
import type { ParsedEvent } from '../src/event.js';
import { createLogger } from '../src/log.js';
import { SqliteStore, type Store } from '../src/store/index.js';

function delivery(body: Record<string, unknown>, messageId?: string): ConsumeMessage {
  return {
    content: Buffer.from(JSON.stringify(body)),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'x', routingKey: '', consumerTag: 'c' },
    properties: { headers: {}, ...(messageId === undefined ? {} : { messageId }) },
  } as unknown as ConsumeMessage;
}

const ev = (id?: string) => ({
  ...(id === undefined ? {} : { id }),
  cliente: 'cliente_uno',
  evento: 'click',
  timestamp: '2025-04-13T12:00:00Z',
});

interface Faults {
  /** commit() refuses any batch holding this id (with a PostgreSQL-like data error). */
  culprit?: string;
  /** The store is down: commit() and ping() fail. */
  down?: boolean;
  /** commit() fails with this error whatever the batch (ping answers). */
  always?: Error;
  /** Called before each commit. */
  onCommit?: (events: ParsedEvent[]) => void;
}

function faulty(inner: Store, f: Faults): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commit')
        return async (events: ParsedEvent[]) => {
          f.onCommit?.(events);
          if (f.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          if (f.always) throw f.always;
          if (f.culprit !== undefined && events.some((e) => e.id === f.culprit))
            throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
              code: '22021',
            });
          return target.commit(events);
        };
      if (prop === 'ping')
        return async () => {
          if (f.down) throw new Error('connect ECONNREFUSED');
          return target.ping();
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('splitting a refused batch', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-split-'));
    store = new SqliteStore(join(dir, 'warren.db'));
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const total = async () => (await store.clientTotals()).reduce((s, c) => s + c.count, 0);
  const handler = (s: Store) =>
    new AnalyticsHandler(() => s, createMetrics(), 'eventos.*.*', createLogger('silent'));

  test('the culprit alone is dead-lettered with the store error; the rest commit', async () => {
    const batch = Array.from({ length: 13 }, (_, i) => delivery(ev(i === 7 ? 'bad' : `ok-${i}`)));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const h = new AnalyticsHandler(
      () => faulty(store, { culprit: 'bad' }),
      createMetrics(),
      'eventos.*.*',
      log,
    );
    const out = await h.handle(batch);
    assert.equal(out.length, 13);
    out.forEach((o, i) => {
      if (i === 7) {
        assert.ok('deadLetter' in o);
        assert.match(o.deadLetter, /^the store refused this event: .*0x00/);
      } else assert.deepEqual(o, { ack: true });
    });
    assert.equal(await total(), 12);
    assert.equal(h.stats.processed, 12);
    assert.equal(h.stats.refused, 1);
    // The analytics log names the event and the store's error (dlq list points there).
    const warn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40);
    assert.ok(warn, 'a warning was logged');
    assert.equal(warn.id, 'bad');
    assert.match(String(warn.err), /0x00/);
  });

  test('a store that is down is retried whole: nothing dead-lettered, then all counted once', async () => {
    const f: Faults = { down: true };
    const batch = [delivery(ev('a')), delivery(ev('b')), delivery(ev())];
    const h = handler(faulty(store, f));
    await assert.rejects(h.handle(batch), /ECONNREFUSED/);
    assert.equal(await total(), 0);
    f.down = false;
    const out = await h.handle(batch);
    assert.deepEqual(out, [{ ack: true }, { ack: true }, { ack: true }]);
    assert.equal(await total(), 3);
  });

  test("an error of the store's own (deadlock, I/O) is not split even while ping answers", async () => {
    let commits = 0;
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const h = handler(faulty(store, { always: deadlock, onCommit: () => commits++ }));
    await assert.rejects(h.handle([delivery(ev('a')), delivery(ev('b'))]), /deadlock/);
    assert.equal(commits, 1, 'one attempt, no split');
    const io = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
    await assert.rejects(handler(faulty(store, { always: io })).handle([delivery(ev('c'))]), /disk I\/O/);
  });

  test('a retry after a failure mid-split does not count a committed half again (events without id)', async () => {
    const f: Faults = { culprit: 'bad' };
    let commits = 0;
    f.onCommit = () => {
      commits++;
      // The whole batch fails, then the first half commits; the store goes down right after.
      if (commits === 3) f.down = true;
    };
    const batch = [delivery(ev()), delivery(ev()), delivery(ev('x')), delivery(ev('bad'))];
    const h = handler(faulty(store, f));
    await assert.rejects(h.handle(batch), /ECONNREFUSED/);
    assert.equal(await total(), 2, 'the first half (two events without id) committed before the outage');
    f.down = false;
    const out = await h.handle(batch);
    assert.deepEqual(out.slice(0, 3), [{ ack: true }, { ack: true }, { ack: true }]);
    assert.ok('deadLetter' in out[3]!);
    assert.equal(await total(), 3, 'the events without id are counted once, not twice');
  });

  test('a message_id that breaks the id rule is not used: the event is counted without dedupe', async () => {
    const h = handler(store);
    const hostile = ['a\u0000b', 'é', 'x'.repeat(129), 'tab\there', ''];
    const batch = hostile.map((m) => delivery(ev(), m));
    batch.push(delivery(ev(), 'good-id'), delivery(ev(), 'good-id'));
    const out = await h.handle(batch);
    assert.ok(out.every((o) => 'ack' in o));
    assert.equal(
      await total(),
      hostile.length + 1,
      'the valid message_id dedupes; the hostile ones are not ids',
    );
    assert.equal(h.stats.withoutId, hostile.length);
  });
});
