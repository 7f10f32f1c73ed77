// Unit tests of cliente/evento taken from an MQTT/STOMP routing key (topic.ts): the body wins,
// the key fills only what the body omits, a bad or ambiguous key never counts a wrong event.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reason } from './event.js';
import { MAX_BODY_BYTES, namesFromRoutingKey, parseDelivery, readDelivery, topicPrefix } from './topic.js';

const TS = '2025-04-13T12:00:00Z';
const body = (o: Record<string, unknown>) => JSON.stringify(o);
const prefix = topicPrefix('eventos.#');

describe('topicPrefix', () => {
  it('is the pattern up to its first wildcard', () => {
    assert.deepEqual(topicPrefix('eventos.#'), ['eventos']);
    assert.deepEqual(topicPrefix('t_1a2b.#'), ['t_1a2b']);
    assert.deepEqual(topicPrefix('app.eventos.*.*'), ['app', 'eventos']);
    assert.deepEqual(topicPrefix('#'), []);
  });
});

describe('namesFromRoutingKey', () => {
  it('reads <prefix>.<cliente>.<evento>', () => {
    assert.deepEqual(namesFromRoutingKey('eventos.cliente_uno.click', prefix), {
      cliente: 'cliente_uno',
      evento: 'click',
    });
    assert.deepEqual(namesFromRoutingKey('uno.click', []), { cliente: 'uno', evento: 'click' });
  });

  it('names nothing for any other key, including ambiguous dotted names', () => {
    for (const key of ['', 'eventos', 'eventos.uno', 'eventos.uno.page.view', 'otros.uno.click']) {
      assert.equal(namesFromRoutingKey(key, prefix), undefined, key);
    }
  });
});

describe('parseDelivery', () => {
  it('fills a missing cliente and evento from the key', () => {
    const r = parseDelivery(body({ timestamp: TS }), 'eventos.cliente_uno.click', prefix);
    assert.ok(r.ok);
    assert.equal(r.event.cliente, 'cliente_uno');
    assert.equal(r.event.evento, 'click');
    assert.equal(r.event.id, undefined);
  });

  it("keeps the body's own values over the key's", () => {
    const r = parseDelivery(
      body({ id: 'a', cliente: 'cliente_dos', timestamp: TS }),
      'eventos.cliente_uno.click',
      prefix,
    );
    assert.ok(r.ok);
    assert.equal(r.event.cliente, 'cliente_dos');
    assert.equal(r.event.evento, 'click');
    assert.equal(r.event.id, 'a');
  });

  it('treats null as omitted, like the contract', () => {
    const r = parseDelivery(body({ cliente: null, evento: 'x', timestamp: TS }), 'eventos.uno.click', prefix);
    assert.ok(r.ok);
    assert.equal(r.event.cliente, 'uno');
  });

  it('rejects a name from the key that breaks the rules, and says where it came from', () => {
    // An MQTT topic level with a character the contract forbids (`@` is not allowed in cliente).
    const r = parseDelivery(body({ timestamp: TS }), 'eventos.uno@x.click', prefix);
    assert.ok(!r.ok);
    assert.match(reason(r.problems), /cliente: .*taken from the routing key "eventos\.uno@x\.click"/);
  });

  it('says why nothing was taken from a key of the wrong shape', () => {
    const r = parseDelivery(body({ timestamp: TS }), 'eventos.uno.page.view', prefix);
    assert.ok(!r.ok);
    assert.match(reason(r.problems), /cliente: required.*not eventos\.<cliente>\.<evento>/);
  });

  it('is parseBody for a Warren publisher (empty routing key)', () => {
    const ok = parseDelivery(body({ cliente: 'uno', evento: 'click', timestamp: TS }), '', prefix);
    assert.ok(ok.ok);
    const bad = parseDelivery(body({ timestamp: TS }), '', prefix);
    assert.ok(!bad.ok);
    assert.doesNotMatch(reason(bad.problems), /routing key/);
  });

  it('still rejects bodies that are not a JSON object', () => {
    for (const b of ['not json', '[1]', '42', 'null']) {
      const r = parseDelivery(b, 'eventos.uno.click', prefix);
      assert.ok(!r.ok, b);
    }
  });

  it('still checks the rest of the body', () => {
    const r = parseDelivery(body({ timestamp: 'yesterday' }), 'eventos.uno.click', prefix);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => p.field),
      ['timestamp'],
    );
  });
});

describe('readDelivery: every property is input', () => {
  const ok = { cliente: 'uno', evento: 'click', timestamp: TS };
  const msg = (content: Buffer | string, properties: Record<string, unknown> = {}) => ({
    content: Buffer.isBuffer(content) ? content : Buffer.from(content),
    fields: { routingKey: '' },
    properties,
  });

  it('takes a message_id as the id only when it satisfies the id rule', () => {
    const id = (m: unknown) => {
      const r = readDelivery(msg(body(ok), { messageId: m }), []);
      assert.ok(r.ok);
      return r.event.id;
    };
    assert.equal(id('m-1'), 'm-1');
    assert.equal(id('x'.repeat(128)), 'x'.repeat(128));
    for (const bad of ['a\u0000b', 'é', 'x'.repeat(129), 'line\nbreak', '\u007f', '', 42, null, { a: 1 }])
      assert.equal(id(bad), undefined, JSON.stringify(bad));
  });

  it("keeps the body's own id whatever the message_id says", () => {
    const r = readDelivery(msg(body({ ...ok, id: 'body-id' }), { messageId: 'a\u0000b' }), []);
    assert.ok(r.ok);
    assert.equal(r.event.id, 'body-id');
  });

  it('ignores content_type, content_encoding, timestamp and headers of any type when the body is an event', () => {
    const r = readDelivery(
      msg(body(ok), {
        contentType: 'image/png',
        contentEncoding: 'gzip',
        timestamp: Number.MAX_SAFE_INTEGER,
        headers: { a: [1, { b: null }], c: Buffer.from([0, 255]), d: true, 'x-death': 'nonsense' },
      }),
      [],
    );
    assert.ok(r.ok);
  });

  it('refuses an empty body, invalid UTF-8 and a body over the limit, with a reason', () => {
    const empty = readDelivery(msg(''), []);
    assert.ok(!empty.ok);
    assert.match(reason(empty.problems), /\(body\): must be UTF-8 JSON/);
    const bytes = Buffer.concat([Buffer.from(body(ok).slice(0, -1)), Buffer.from(',"n":"\xff"}', 'latin1')]);
    const bad = readDelivery(msg(bytes, { contentEncoding: 'gzip' }), []);
    assert.ok(!bad.ok);
    assert.match(reason(bad.problems), /not valid UTF-8 \(content_encoding "gzip" is not decoded\)/);
    const huge = readDelivery(msg(body({ ...ok, pad: 'x'.repeat(MAX_BODY_BYTES) })), []);
    assert.ok(!huge.ok);
    assert.match(reason(huge.problems), new RegExp(`at most ${MAX_BODY_BYTES} bytes`));
    const bom = readDelivery(
      msg(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body(ok))])),
      [],
    );
    assert.ok(!bom.ok, 'a byte order mark before the JSON is refused, as before');
    const edge = readDelivery(msg(body({ ...ok, pad: 'x'.repeat(MAX_BODY_BYTES - 200) })), []);
    assert.ok(edge.ok, 'a body under the limit is read');
  });
});
