// The audit envelope: what goes into a line comes back out as the same event with the same id,
// and bodies that are not events are kept (raw) but never replayed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { type AuditRecord, fromLine, toLine } from './record.js';

const AT = new Date('2025-04-13T12:00:01.500Z');

function delivery(content: Buffer | string, messageId?: string): ConsumeMessage {
  return {
    content: Buffer.isBuffer(content) ? content : Buffer.from(content),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'x', routingKey: '', consumerTag: 'c' },
    properties: { messageId, headers: {} },
  } as unknown as ConsumeMessage;
}

describe('audit record', () => {
  it('keeps a valid event as JSON, and replays it with its id', () => {
    const body =
      '{"id":"e-1","cliente":"cliente_uno","evento":"click","timestamp":"2025-04-13T12:00:00Z","extra":1}';
    const line = toLine(delivery(body, 'e-1'), AT);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    const rec = JSON.parse(line) as AuditRecord;
    assert.equal(rec.at, '2025-04-13T12:00:01.500Z');
    assert.deepEqual(rec.body, JSON.parse(body));
    assert.deepEqual(fromLine(line), {
      kind: 'event',
      event: { id: 'e-1', cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T12:00:00Z' },
    });
  });

  it('replays an event with its usuario', () => {
    const body =
      '{"id":"e-2","cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00Z","usuario":"ana ✓"}';
    assert.deepEqual(fromLine(toLine(delivery(body), AT)), {
      kind: 'event',
      event: { id: 'e-2', cliente: 'c', evento: 'e', timestamp: '2025-04-13T12:00:00Z', usuario: 'ana ✓' },
    });
  });

  it('uses the AMQP message_id when the body has no id, as the consumer does', () => {
    const line = toLine(
      delivery('{"cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00+05:30"}', 'm-9'),
      AT,
    );
    const d = fromLine(line);
    assert.equal(d.kind, 'event');
    assert.equal(d.kind === 'event' && d.event.id, 'm-9');
  });

  it('a message_id that breaks the id rule is not used as the id, as the consumer does', () => {
    for (const m of ['a\u0000b', 'é', 'x'.repeat(129), 'tab\there']) {
      const d = fromLine(
        toLine(delivery('{"cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00Z"}', m), AT),
      );
      assert.ok(d.kind === 'event', JSON.stringify(m));
      assert.equal(d.event.id, undefined, JSON.stringify(m));
    }
  });

  it('an event with neither id is still replayed, without one', () => {
    const d = fromLine(
      toLine(delivery('{"cliente":"c","evento":"e","timestamp":"2025-04-13T12:00:00Z"}'), AT),
    );
    assert.ok(d.kind === 'event' && d.event.id === undefined);
  });

  it('keeps bodies that are not UTF-8 JSON byte for byte, and never replays them', () => {
    for (const raw of [
      Buffer.from('{not json'),
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
      Buffer.from('a\nb'),
    ]) {
      const line = toLine(delivery(raw), AT);
      assert.ok(!line.slice(0, -1).includes('\n'), 'one line per message');
      const rec = JSON.parse(line) as AuditRecord;
      assert.deepEqual(Buffer.from(rec.raw!, 'base64'), raw);
      assert.equal(fromLine(line).kind, 'invalid');
    }
  });

  it('JSON that is not an event is recorded and skipped by replay', () => {
    assert.equal(fromLine(toLine(delivery('{"evento":"click"}'), AT)).kind, 'invalid');
    assert.equal(fromLine(toLine(delivery('[1,2]'), AT)).kind, 'invalid');
  });

  it('a torn or foreign line is unreadable, not fatal', () => {
    assert.equal(fromLine('{"at":"2025-04-13T12:00:00Z","body":{"id":"x","clie').kind, 'unreadable');
    assert.equal(fromLine('42').kind, 'unreadable');
    assert.equal(fromLine('null').kind, 'unreadable');
  });
});
