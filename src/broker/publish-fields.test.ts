// publishFields makes what amqplib's Args.publish makes: encoded by amqplib's own encoders, the
// method frame and the content header are the same bytes, whatever the options; the caller's
// headers object is never written; and amqplib's publish is still the sequence sendPublish repeats.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Options } from 'amqplib';
import { WarrenError } from '../errors.js';
import './amqp.js'; // loads amqplib through its guard and checks the publish path
import { checkPublishPath, publishFields } from './publish-fields.js';

const require = createRequire(import.meta.url);
type Fields = Record<string, unknown>;
const Args = require('amqplib/lib/api_args.js') as {
  publish: (exchange: string, routingKey: string, options?: Options.Publish) => Fields;
};
const defs = require('amqplib/lib/defs.js') as {
  encodeMethod: (id: number, channel: number, fields: Fields) => Buffer;
  encodeProperties: (id: number, channel: number, size: number, fields: Fields) => Buffer;
  BasicPublish: number;
  BasicProperties: number;
};

const encode = (f: Fields) =>
  Buffer.concat([
    defs.encodeMethod(defs.BasicPublish, 3, f),
    defs.encodeProperties(defs.BasicProperties, 3, 130, f),
  ]);

const cases: [string, Options.Publish][] = [
  ['no options', {}],
  [
    "an event's properties, mandatory, with the publish tag",
    {
      contentType: 'application/json',
      persistent: true,
      messageId: '0193a8f2-7c1e-7d6a-9f3b-2b8f1e0c4a11',
      type: 'click',
      appId: 'cliente_uno',
      timestamp: 1_765_000_000,
      mandatory: true,
      headers: { 'x-warren-pub': '0123456789abcdef.1a', 'x-warren-seq': 70_000 },
    },
  ],
  [
    'every other property',
    {
      contentEncoding: 'gzip',
      deliveryMode: 1,
      priority: 5,
      correlationId: 'c-1',
      replyTo: 'amq.rabbitmq.reply-to',
      expiration: 60_000,
      userId: 'guest',
      headers: { n: 1.5, big: 2 ** 40, yes: true, no: null, list: [1, 'a'], nested: { a: { b: 'c' } } },
    },
  ],
  ['persistent false, deliveryMode truthy', { persistent: false }],
  ['deliveryMode true', { deliveryMode: true }],
  ['expiration as a string', { expiration: '1000' }],
  ['CC and BCC, with headers', { CC: 'a', BCC: ['b', 'c'], headers: { h: 'v' } }],
  ['CC only', { CC: ['x', 'y'] }],
  ['headers with an undefined value', { headers: { a: undefined, b: 'kept' } }],
];

for (const [what, options] of cases) {
  test(`publishFields encodes as Args.publish does: ${what}`, () => {
    for (const [exchange, key] of [
      ['eventos_clientes', ''],
      ['', 'cola_analiticas.reconcile'],
    ] as const) {
      const ours = publishFields(exchange, key, options);
      assert.deepEqual(encode(ours as unknown as Fields), encode(Args.publish(exchange, key, options)));
    }
  });
}

test("publishFields copies the caller's headers: the publisher's own writes stay its own", () => {
  const headers = { 'x-warren-pub': 't.1' };
  const fields = publishFields('ex', '', { headers });
  fields.headers['x-warren-seq'] = 1;
  assert.deepEqual(headers, { 'x-warren-pub': 't.1' });
});

test('the publish path check accepts this amqplib and refuses one whose publish does more', () => {
  checkPublishPath(require('amqplib/lib/channel_model.js') as { ConfirmChannel?: unknown });
  class Channel {
    publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish) {
      const fieldsAndProps = Args.publish(exchange, routingKey, options);
      this.track(content);
      return this.sendMessage(fieldsAndProps, fieldsAndProps, content);
    }
    track(_: Buffer) {}
    sendMessage(..._: unknown[]) {
      return true;
    }
  }
  class ConfirmChannel extends Channel {
    override publish(
      exchange: string,
      routingKey: string,
      content: Buffer,
      options: Options.Publish,
      cb?: unknown,
    ) {
      this.pushConfirmCallback(cb);
      return super.publish(exchange, routingKey, content, options);
    }
    pushConfirmCallback(_: unknown) {}
  }
  // Its ConfirmChannel passes; its Channel.publish does something between building and sending.
  assert.throws(
    () => checkPublishPath({ ConfirmChannel, Channel }),
    (err: unknown) => err instanceof WarrenError && /Channel\.publish no longer/.test(err.message),
  );
  assert.throws(() => checkPublishPath({}), WarrenError);
});
