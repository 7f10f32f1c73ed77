// amqplib, loaded behind a guard on its field-table decoder. Every runtime use of amqplib in src
// goes through this module (`connect` below); type-only imports from 'amqplib' are fine.
//
// Why: amqplib's decodeFields (lib/codec.js) is recursive, so a message whose headers hold a table
// nested a few thousand deep (which the broker accepts) overflows the stack while amqplib parses
// the content header. amqplib then closes the whole connection: the consumer reconnects, gets the
// message back with every unacked delivery of its prefetch window, and loops until the delivery
// limit dead-letters them all. Guarded, such headers decode to one small table naming the failure
// and the message arrives with its body intact, so the body alone decides whether it is counted.
//
// lib/defs.js (every method and header decoder, so method frames too) copies
// `codec.decodeFields` once, when it is first loaded: the guard must replace it before anything
// loads amqplib. This module installs it and only then requires amqplib, in one synchronous run,
// and checks the result; an amqplib whose internals moved fails here, at start, not on a message.
// (A process that loaded amqplib earlier gets a fresh, guarded copy: see forgetUnguarded.)
// It also checks the publish internals the confirmed publisher calls (publish-fields.ts).
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import type * as Amqplib from 'amqplib';
import { WarrenError } from '../errors.js';
import { checkPublishPath } from './publish-fields.js';

const require = createRequire(import.meta.url);

/** The header a message gets in place of headers amqplib cannot decode. */
export const UNDECODABLE_HEADERS = 'x-warren-undecodable-headers';

type DecodeFields = (slice: Buffer) => Record<string, unknown>;
const GUARDED = Symbol.for('warren.decodeFieldsGuarded');

function guardError(why: string): WarrenError {
  return new WarrenError(
    'internal',
    `cannot guard amqplib's header decoder: ${why}; amqplib's internals changed (package-lock pins 0.10.x): check node_modules/amqplib/lib/codec.js and update src/broker/amqp.ts`,
  );
}

/** Replaces codec.decodeFields with one that turns a decoding failure into a marker table. */
export function guardDecodeFields(codec: { decodeFields?: unknown }): void {
  const original = codec.decodeFields;
  if (typeof original !== 'function') throw guardError('lib/codec.js has no decodeFields function');
  if ((original as { [GUARDED]?: boolean })[GUARDED]) return;
  const decode = original as DecodeFields;
  const guarded = (slice: Buffer): Record<string, unknown> => {
    try {
      return decode(slice);
    } catch (err) {
      // RangeError: the stack overflowed, or a length ran past the frame; TypeError: unknown tag.
      if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
      return { [UNDECODABLE_HEADERS]: `${err.name}: ${err.message}`.slice(0, 200) };
    }
  };
  Object.defineProperty(guarded, GUARDED, { value: true });
  codec.decodeFields = guarded;
}

/** Content header properties with headers holding one field of an unknown type tag. */
function undecodableProperties(): Buffer {
  const table = Buffer.from([1, 0x61, 0x5a]); // key "a", type tag "Z"
  const buf = Buffer.alloc(2 + 4 + table.length);
  buf.writeUInt16BE(0x2000, 0); // property flags: headers only
  buf.writeUInt32BE(table.length, 2);
  table.copy(buf, 6);
  return buf;
}

/** Fails unless amqplib's header decoder (defs.js) answers an undecodable table with the marker. */
export function checkGuarded(defs: { decode?: unknown; BasicProperties?: unknown }): void {
  if (typeof defs.decode !== 'function' || typeof defs.BasicProperties !== 'number')
    throw guardError('lib/defs.js has no decode function or BasicProperties id');
  let props: { headers?: Record<string, unknown> } | undefined;
  try {
    props = defs.decode(defs.BasicProperties, undecodableProperties());
  } catch (err) {
    throw guardError(`lib/defs.js decodes with another decodeFields (${String(err)})`);
  }
  if (typeof props?.headers?.[UNDECODABLE_HEADERS] !== 'string')
    throw guardError('lib/defs.js did not answer an undecodable table with the marker');
}

/**
 * Drops amqplib's unguarded modules from the require cache, so the next require loads a fresh copy
 * that decodes through the guard. Only a process that imported 'amqplib' directly before this
 * module (a test harness) gets here; the copy it already holds keeps working as before.
 */
function forgetUnguarded(): void {
  const dir = dirname(require.resolve('amqplib/package.json')) + sep;
  for (const key of Object.keys(require.cache))
    if (key.startsWith(dir) && !key.slice(dir.length).includes(`node_modules${sep}`))
      delete require.cache[key];
}

function load(): typeof Amqplib {
  const defsPath = require.resolve('amqplib/lib/defs.js');
  const isGuarded = (codec: { decodeFields?: unknown }) =>
    (codec.decodeFields as { [GUARDED]?: boolean } | undefined)?.[GUARDED] === true;
  let codec = require('amqplib/lib/codec.js') as { decodeFields?: unknown };
  if (require.cache[defsPath] && !isGuarded(codec)) {
    forgetUnguarded();
    codec = require('amqplib/lib/codec.js') as { decodeFields?: unknown };
  }
  guardDecodeFields(codec);
  const amqplib = require('amqplib') as typeof Amqplib;
  checkGuarded(require(defsPath) as { decode?: unknown; BasicProperties?: unknown });
  checkPublishPath(
    require('amqplib/lib/channel_model.js') as { ConfirmChannel?: unknown; Channel?: unknown },
  );
  return amqplib;
}

const amqplib = load();

export const connect: typeof Amqplib.connect = amqplib.connect;
