// amqplib behind the decoder guard: deep or broken field tables decode to a marker (content headers
// and method frames alike), an amqplib whose internals moved fails loudly, and nothing in src loads
// amqplib at run time except through src/broker/amqp.ts. This file imports amqplib directly first,
// as a test harness does: the guard must still hold for the copy src uses.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import 'amqplib';
import { WarrenError } from '../errors.js';
import { checkGuarded, guardDecodeFields, UNDECODABLE_HEADERS } from './amqp.js';

const require = createRequire(import.meta.url);
const defs = require('amqplib/lib/defs.js') as {
  decode: (id: number, buf: Buffer) => Record<string, unknown>;
  BasicProperties: number;
  ConnectionStart: number;
};

/** A field table nested `depth` deep ("a" inside "a" ... inside {"v": 1}), written in one pass. */
function deepTable(depth: number): Buffer {
  const buf = Buffer.alloc(7 * depth + 4);
  for (let i = 0; i < depth; i++) {
    buf.write('\u0001aF', 7 * i, 'latin1'); // key "a", type "F" (table)
    buf.writeUInt32BE(buf.length - 7 * (i + 1), 7 * i + 3);
  }
  buf.set([1, 0x76, 0x62, 1], 7 * depth); // "v": octet 1
  return buf;
}

/** A field table {"a": [[[...[1]...]]]} with the array nested `depth` deep, written in one pass. */
function deepArray(depth: number): Buffer {
  const buf = Buffer.alloc(2 + 5 * depth + 2);
  buf.write('\u0001a', 0, 'latin1');
  for (let i = 0; i < depth; i++) {
    buf.write('A', 2 + 5 * i, 'latin1');
    buf.writeUInt32BE(buf.length - (2 + 5 * (i + 1)), 2 + 5 * i + 1);
  }
  buf.set([0x62, 1], 2 + 5 * depth); // signed octet 1
  return buf;
}

const longTable = (table: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(table.length);
  return Buffer.concat([len, table]);
};
const shortStr = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

/** Content header properties: headers, then a message_id after them. */
const properties = (table: Buffer) =>
  Buffer.concat([Buffer.from([0x20, 0x80]), longTable(table), shortStr('after-headers')]);

test('headers nested 100,000 deep decode to the marker, and the properties after them still decode', () => {
  const props = defs.decode(defs.BasicProperties, properties(deepTable(100_000)));
  assert.deepEqual(props.headers, { [UNDECODABLE_HEADERS]: 'RangeError: Maximum call stack size exceeded' });
  assert.equal(props.messageId, 'after-headers');
});

test('arrays nested 100,000 deep decode to the marker; shallow ones as before', () => {
  const deep = defs.decode(defs.BasicProperties, properties(deepArray(100_000)));
  assert.deepEqual(deep.headers, { [UNDECODABLE_HEADERS]: 'RangeError: Maximum call stack size exceeded' });
  const shallow = defs.decode(defs.BasicProperties, properties(deepArray(3)));
  assert.deepEqual(shallow.headers, { a: [[[1]]] });
});

test('an unknown type tag or a length past the table decodes to the marker', () => {
  const unknownTag = defs.decode(defs.BasicProperties, properties(Buffer.from([1, 0x61, 0x5a])));
  assert.match(String((unknownTag.headers as Record<string, unknown>)[UNDECODABLE_HEADERS]), /^TypeError: /);
  const pastEnd = defs.decode(defs.BasicProperties, properties(Buffer.from([1, 0x61, 0x53, 0, 0, 0])));
  assert.match(String((pastEnd.headers as Record<string, unknown>)[UNDECODABLE_HEADERS]), /^RangeError: /);
});

test('ordinary headers decode as before', () => {
  const props = defs.decode(defs.BasicProperties, properties(deepTable(50)));
  let t = props.headers as Record<string, unknown>;
  for (let i = 0; i < 50; i++) t = t.a as Record<string, unknown>;
  assert.deepEqual(t, { v: 1 });
});

test('method frames share the guard (connection.start server properties nested 100,000 deep)', () => {
  const args = Buffer.concat([
    Buffer.from([0, 9]),
    longTable(deepTable(100_000)),
    longTable(Buffer.from('PLAIN')),
    longTable(Buffer.from('en_US')),
  ]);
  const start = defs.decode(defs.ConnectionStart, args);
  assert.deepEqual(Object.keys(start.serverProperties as object), [UNDECODABLE_HEADERS]);
  assert.equal(String(start.mechanisms), 'PLAIN');
});

test('an amqplib without codec.decodeFields fails loudly, naming the file to check', () => {
  assert.throws(
    () => guardDecodeFields({}),
    (err) => err instanceof WarrenError && /lib\/codec\.js has no decodeFields/.test(err.message),
  );
});

test('an amqplib whose defs.js kept an unguarded decoder fails the start-up check', () => {
  const unguarded = {
    BasicProperties: 60,
    decode: () => {
      throw new TypeError('Unexpected type tag "Z"');
    },
  };
  assert.throws(
    () => checkGuarded(unguarded),
    (err) => err instanceof WarrenError && /another decodeFields/.test(err.message),
  );
  assert.throws(
    () => checkGuarded({ BasicProperties: 60, decode: () => ({ headers: {} }) }),
    /did not answer an undecodable table/,
  );
  assert.throws(() => checkGuarded({}), /no decode function/);
});

test('src loads amqplib at run time only through src/broker/amqp.ts', () => {
  const src = join(import.meta.dirname, '..');
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (
        /\.tsx?$/.test(e.name) &&
        !e.name.endsWith('.test.ts') &&
        p !== join(src, 'broker', 'amqp.ts')
      ) {
        const text = readFileSync(p, 'utf8');
        const runtime =
          /^import\s+(?!type\b)[^;]*from\s+'amqplib'/m.test(text) ||
          /^import\s+'amqplib'/m.test(text) ||
          /(import|require)\(\s*'amqplib[^']*'\s*\)/.test(text);
        if (runtime) offenders.push(p);
      }
    }
  };
  walk(src);
  assert.deepEqual(offenders, []);
});
