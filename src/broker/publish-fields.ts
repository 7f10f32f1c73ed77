// One basic.publish without amqplib's per-call argument building. amqplib's
// ConfirmChannel.publish(exchange, key, body, options, cb) is `pushConfirmCallback(cb)`, then
// `Args.publish(exchange, key, options)` (a fresh object of every method field and property, with
// `headers` made as `Object.create(options.headers)`), then `sendMessage(fields, fields, body)`,
// which encodes the frames at once. Building that object and encoding a table through a prototype
// chain cost about as much as encoding the rest of the message (a third of the simulated clients'
// CPU per event, with the per-publish headers). Here the object is built once per message, in the
// same shape with plain own headers, and the same two calls send it: the bytes on the wire are
// the same (publish-fields.test.ts compares them with Args.publish's). amqp.ts checks at start
// that the two calls are still what ConfirmChannel.publish does.
import type { ConfirmChannel, Options } from 'amqplib';
import { WarrenError } from '../errors.js';

/** basic.publish's method fields and the message's properties, as amqplib's encoders read them. */
export interface PublishFields {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  immediate: false;
  ticket: undefined;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** Own properties only; written by the publisher (its sequence header), never the caller's object. */
  headers: Record<string, unknown>;
  deliveryMode: number | undefined;
  priority: number | undefined;
  correlationId: string | undefined;
  replyTo: string | undefined;
  expiration: string | undefined;
  messageId: string | undefined;
  timestamp: number | undefined;
  type: string | undefined;
  userId: string | undefined;
  appId: string | undefined;
  clusterId: undefined;
}

const ccList = (cc: string | string[]) => (Array.isArray(cc) ? cc.map(String) : [String(cc)]);

/** The headers table amqplib would send: CC and BCC first (when set), then the caller's headers. */
function headersOf(o: Options.Publish): Record<string, unknown> {
  if (o.CC == null && o.BCC == null) return { ...o.headers };
  const h: Record<string, unknown> = {};
  if (o.CC != null) h.CC = ccList(o.CC);
  if (o.BCC != null) h.BCC = ccList(o.BCC);
  for (const k in o.headers) if (!Object.hasOwn(h, k)) h[k] = (o.headers as Record<string, unknown>)[k];
  return h;
}

/** What amqplib's Args.publish makes of these options (api_args.js), with plain own headers. */
export function publishFields(exchange: string, routingKey: string, o: Options.Publish): PublishFields {
  let deliveryMode: number | undefined;
  if (o.persistent !== undefined) deliveryMode = o.persistent ? 2 : 1;
  else if (typeof o.deliveryMode === 'number') deliveryMode = o.deliveryMode;
  else if (o.deliveryMode) deliveryMode = 2;
  return {
    exchange,
    routingKey,
    mandatory: !!o.mandatory,
    immediate: false,
    ticket: undefined,
    contentType: o.contentType,
    contentEncoding: o.contentEncoding,
    headers: headersOf(o),
    deliveryMode,
    priority: o.priority,
    correlationId: o.correlationId,
    replyTo: o.replyTo,
    expiration: o.expiration === undefined ? undefined : o.expiration.toString(),
    messageId: o.messageId,
    timestamp: o.timestamp,
    type: o.type,
    userId: o.userId,
    appId: o.appId,
    clusterId: undefined,
  };
}

interface ConfirmChannelInternals {
  pushConfirmCallback(cb: (err: unknown) => void): void;
  sendMessage(fields: PublishFields, props: PublishFields, body: Buffer): boolean;
}

/**
 * ConfirmChannel.publish with fields made by publishFields: false when the channel's buffer is
 * full (wait for 'drain'); `cb` gets the confirm. It throws, having sent nothing, on a channel
 * that is closing or closed and on a property amqplib cannot encode. Unlike publish, it registers
 * the callback only once the message is written: publish registers it first, so a publish that
 * threw left a callback for a message never sent in amqplib's window, where it took the next
 * message's confirm (and every later one shifted by one). A confirm cannot arrive before the
 * callback is in place: frames are read in a later turn of the event loop.
 */
export function sendPublish(
  ch: ConfirmChannel,
  fields: PublishFields,
  body: Buffer,
  cb: (err: unknown) => void,
): boolean {
  const c = ch as unknown as ConfirmChannelInternals;
  const ok = c.sendMessage(fields, fields, body);
  c.pushConfirmCallback(cb);
  return ok;
}

/**
 * Fails unless amqplib's ConfirmChannel.publish is still pushConfirmCallback + Args.publish +
 * sendMessage (lib/channel_model.js), the sequence sendPublish repeats without Args.publish.
 */
export function checkPublishPath(model: { ConfirmChannel?: unknown; Channel?: unknown }): void {
  const fail = (why: string) =>
    new WarrenError(
      'internal',
      `cannot publish through amqplib's ConfirmChannel internals: ${why}; amqplib's internals changed (package-lock pins 0.10.x): check node_modules/amqplib/lib/channel_model.js and update src/broker/publish-fields.ts`,
    );
  const proto = (cls: unknown) => (cls as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const confirm = proto(model.ConfirmChannel);
  const plain = proto(model.Channel);
  if (!confirm || !plain) throw fail('lib/channel_model.js has no ConfirmChannel or Channel class');
  for (const m of ['publish', 'pushConfirmCallback', 'sendMessage'])
    if (typeof confirm[m] !== 'function') throw fail(`ConfirmChannel has no ${m} method`);
  const confirmPublish = String(confirm.publish);
  const plainPublish = String(plain.publish);
  if (!/this\.pushConfirmCallback\(cb\);\s*return super\.publish\(/.test(confirmPublish))
    throw fail('ConfirmChannel.publish no longer only registers the callback before publishing');
  if (!/Args\.publish\([^)]*\);\s*return this\.sendMessage\(\w+, \w+, content\)/.test(plainPublish))
    throw fail('Channel.publish no longer only builds its fields and calls sendMessage');
}
