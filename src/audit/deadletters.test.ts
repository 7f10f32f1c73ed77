// What `dlq list` says about a message, and which ones `dlq replay --id` picks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GetMessage } from 'amqplib';
import { type Held, inspect, republishProps, select } from './deadletters.js';

function dead(body: string, props: Record<string, unknown> = {}, reasonOfDeath = 'rejected'): GetMessage {
  return {
    content: Buffer.from(body),
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'q', messageCount: 0 },
    properties: {
      headers: {
        'x-death': [
          { count: 1, reason: reasonOfDeath, queue: 'q', time: { '!': 'timestamp', value: 1744545600 } },
        ],
        'x-first-death-reason': reasonOfDeath,
        'x-delivery-count': 3,
        'x-custom': 'kept',
      },
      ...props,
    },
  } as unknown as GetMessage;
}

describe('dead letters', () => {
  it('an invalid body gets the schema verdict; time from x-death; cliente from the body', () => {
    const d = inspect(dead('{"id":"a","cliente":"cliente_uno","evento":"click","timestamp":"yesterday"}'), 1);
    assert.equal(d.valid, false);
    assert.match(d.reason, /^timestamp: /);
    assert.equal(d.time, '2025-04-13T12:00:00Z');
    assert.equal(d.cliente, 'cliente_uno');
    assert.equal(d.id, 'a');
    assert.equal(d.death, 'rejected');
  });

  it('a valid event says which broker rule dead-lettered it', () => {
    const d = inspect(
      dead(
        '{"cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00Z"}',
        { messageId: 'm' },
        'delivery_limit',
      ),
      2,
    );
    assert.equal(d.valid, true);
    assert.equal(d.id, 'm');
    assert.match(d.reason, /delivery_limit/);
  });

  it('a long body is previewed, not printed whole; app_id names the client of unreadable bodies', () => {
    const d = inspect(dead(`{"x":"${'z'.repeat(500)}`, { appId: 'cliente_dos' }), 1);
    assert.ok(d.preview.length <= 161);
    assert.equal(d.cliente, 'cliente_dos');
  });

  it('a republished copy drops the dead-letter trail and keeps the rest', () => {
    const p = republishProps(dead('{}', { messageId: 'm', appId: 'c', type: 'e', timestamp: 5 }));
    assert.deepEqual(p.headers, { 'x-custom': 'kept' });
    assert.equal(p.persistent, true);
    assert.equal(p.mandatory, true);
    assert.equal(p.messageId, 'm');
  });

  it('--id matches an id or message_id first, then a position', () => {
    const held: Held[] = ['{"id":"2"}', '{"id":"x"}', '{}'].map((b, i) => {
      const msg = dead(b, i === 2 ? { messageId: 'mid' } : {});
      return { msg, info: inspect(msg, i + 1) };
    });
    assert.deepEqual(
      select(held, '2').map((h) => h.info.position),
      [1],
    );
    assert.deepEqual(
      select(held, '#2').map((h) => h.info.position),
      [2],
    );
    assert.deepEqual(
      select(held, '3').map((h) => h.info.position),
      [3],
    );
    assert.deepEqual(
      select(held, 'mid').map((h) => h.info.position),
      [3],
    );
    assert.deepEqual(select(held, '9'), []);
  });

  it('no property or header of a dead letter can make inspect() throw', () => {
    const hostile: Record<string, unknown>[] = [
      { timestamp: Number.MAX_SAFE_INTEGER },
      { timestamp: -1e300 },
      { headers: { 'x-death': [null, 5] } },
      { headers: { 'x-death': [{ reason: 7, time: { value: 1e300 } }] } },
      { headers: { 'x-death': 'text', 'x-first-death-reason': 3 } },
      { headers: null, messageId: 'a\u0000b', appId: 5 },
    ];
    for (const props of hostile) {
      const msg = dead('{"cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00Z"}', props);
      if (props.headers !== undefined) msg.properties.headers = props.headers as never;
      const d = inspect(msg, 1);
      assert.equal(d.valid, true, JSON.stringify(props));
      assert.ok(d.time === undefined || !Number.isNaN(Date.parse(d.time)));
    }
    const m = dead('{"evento":"e"}', { messageId: 'a\u0000b' });
    assert.equal(inspect(m, 1).id, undefined, 'a message_id that breaks the id rule is not an id');
  });
});
