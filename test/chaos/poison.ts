// Messages that can never be counted, of many kinds: what a buggy or hostile publisher outside
// Warren may put on the exchange. Message i carries the AMQP message_id `poison-<i>`, and every
// body that has a string id starts it with `poison-<i>`, so `warren dlq list` (which shows the
// body's id, else the message_id) names each one and the test can check each is there once.

const TS = '2025-04-13T12:00:00Z';

type Kind = (i: number) => string | Buffer;

const obj = (fields: Record<string, unknown>) => JSON.stringify(fields);
const valid = (i: number) => ({ id: `poison-${i}`, cliente: 'poison_c', evento: 'click', timestamp: TS });

/** Kind name → body of message i. Each is invalid under the event contract (src/event.ts). */
export const KINDS: Record<string, Kind> = {
  'not JSON': () => 'not json at all {',
  'truncated JSON': (i) => obj(valid(i)).slice(0, -5),
  'empty body': () => '',
  binary: (i) =>
    Buffer.from(Array.from({ length: 64 }, (_, k) => (k === 0 ? 0xff : (i * 31 + k * 17) % 256))),
  'UTF-8 BOM before JSON': (i) =>
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(obj(valid(i)))]),
  'invalid UTF-8 in a name': (i) =>
    Buffer.concat([
      Buffer.from(`{"id":"poison-${i}","cliente":"a`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`b","evento":"click","timestamp":"${TS}"}`),
    ]),
  'JSON array of an event': (i) => JSON.stringify([valid(i)]),
  'JSON null': () => 'null',
  'JSON string': () => '"click"',
  'huge number body': () => '1e400',
  'huge numbers in fields': (i) =>
    `{"id":"poison-${i}","cliente":1e999,"evento":"click","timestamp":123456789012345678901234567890123}`,
  'missing cliente': (i) => obj({ ...valid(i), cliente: undefined }),
  'missing evento': (i) => obj({ ...valid(i), evento: undefined }),
  'missing timestamp': (i) => obj({ ...valid(i), timestamp: undefined }),
  'null fields': (i) => obj({ id: `poison-${i}`, cliente: null, evento: null, timestamp: null }),
  'wrong types': (i) => obj({ ...valid(i), cliente: 7, evento: true }),
  'id not a string': (i) => obj({ ...valid(i), id: 12345 + i }),
  'nested object as a name': (i) => obj({ ...valid(i), cliente: { name: 'a' } }),
  'timestamp without zone': (i) => obj({ ...valid(i), timestamp: '2025-04-13T12:00:00' }),
  'impossible date': (i) => obj({ ...valid(i), timestamp: '2025-02-30T12:00:00Z' }),
  'timestamp in words': (i) => obj({ ...valid(i), timestamp: 'yesterday at noon' }),
  'epoch number timestamp': (i) => obj({ ...valid(i), timestamp: 1744545600 }),
  'oversize cliente (65)': (i) => obj({ ...valid(i), cliente: 'c'.repeat(65) }),
  'oversize evento (100 kB)': (i) => obj({ ...valid(i), evento: 'e'.repeat(100_000) }),
  'oversize id (200)': (i) => obj({ ...valid(i), id: `poison-${i}-${'x'.repeat(200)}` }),
  'empty names': (i) => obj({ ...valid(i), cliente: '', evento: '' }),
  'control characters in names': (i) => obj({ ...valid(i), cliente: 'a\u0000b', evento: 'click\n' }),
  'control character in id': (i) => obj({ ...valid(i), id: `poison-${i}\u0007` }),
  'non-ASCII name': (i) => obj({ ...valid(i), cliente: 'clienté' }),
  '__proto__ key': (i) =>
    `{"__proto__":{"cliente":"a","evento":"click"},"id":"poison-${i}","evento":"click","timestamp":"${TS}"}`,
  'constructor.prototype key': (i) =>
    obj({ constructor: { prototype: { cliente: 'a' } }, id: `poison-${i}`, evento: 'click', timestamp: TS }),
  'deeply nested arrays': () => `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
};

export interface Poison {
  kind: string;
  body: Buffer;
  messageId: string;
}

/** n poison messages, cycling through every kind. */
export function poisonMessages(n: number): Poison[] {
  const names = Object.keys(KINDS);
  return Array.from({ length: n }, (_, i) => {
    const kind = names[i % names.length]!;
    const b = KINDS[kind]!(i);
    return { kind, body: Buffer.isBuffer(b) ? b : Buffer.from(b), messageId: `poison-${i}` };
  });
}

/** The poison index a dead letter's id names, or undefined. */
export function poisonIndex(id: string | undefined): number | undefined {
  const m = /^poison-(\d+)/.exec(id ?? '');
  return m ? Number(m[1]) : undefined;
}
