// Events published over MQTT or STOMP (issue 11) land in `amq.topic` with a routing key
// `<prefix>.<cliente>.<evento>`: the MQTT plugin turns the topic `eventos/cliente_uno/click` into
// `eventos.cliente_uno.click` (it maps `/` to `.` and leaves dots alone), and a STOMP SEND to
// `/topic/eventos.cliente_uno.click` uses the key as written (RabbitMQ docs: "MQTT Plugin", topic
// translation; "STOMP Plugin", destinations). The exchange-to-exchange binding amq.topic →
// eventos_clientes keeps the publisher's routing key, so the consumer sees it on every delivery.
// A body that omits `cliente` or `evento` takes it from that key; a body's own value always wins.
import { ID_RE, type ParseResult, type Problem, PUB_HEADER, PUB_RE, parse, parseBody } from './event.js';

/** The routing key's leading words before cliente and evento: TOPIC_PATTERN up to its first wildcard. */
export function topicPrefix(pattern: string): string[] {
  const words = pattern.split('.');
  const wildcard = words.findIndex((w) => w === '*' || w === '#');
  return wildcard === -1 ? words : words.slice(0, wildcard);
}

export interface TopicNames {
  cliente: string;
  evento: string;
}

/**
 * cliente and evento named by a routing key `<prefix>.<cliente>.<evento>`, one word each; any other
 * key names nothing. A name with a dot cannot be told apart from an extra level, so it must be
 * sent in the body (guessing would count an event under the wrong client without a trace).
 */
export function namesFromRoutingKey(key: string, prefix: readonly string[]): TopicNames | undefined {
  if (!key) return undefined;
  const words = key.split('.');
  if (words.length !== prefix.length + 2 || prefix.some((w, i) => words[i] !== w)) return undefined;
  return { cliente: words[prefix.length]!, evento: words[prefix.length + 1]! };
}

const FIELDS = ['cliente', 'evento'] as const;

function annotate(problems: Problem[], fields: readonly string[], note: string): Problem[] {
  return problems.map((p) => (fields.includes(p.field) ? { ...p, rule: `${p.rule} ${note}` } : p));
}

/**
 * Decodes and checks a delivery's body like parseBody(), filling a missing `cliente`/`evento` from
 * the routing key. A name taken from the key obeys the same rules; a bad one makes the message
 * invalid, and the reason says the value came from the routing key. Never throws.
 */
export function parseDelivery(
  body: Buffer | string,
  routingKey: string,
  prefix: readonly string[],
): ParseResult {
  const names = namesFromRoutingKey(routingKey, prefix);
  if (!names) {
    const r = parseBody(body);
    if (r.ok || !routingKey) return r;
    const shape = [...prefix, '<cliente>', '<evento>'].join('.');
    return {
      ok: false,
      problems: annotate(r.problems, FIELDS, `(the routing key "${routingKey}" is not ${shape})`),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return parseBody(body);
  }
  return fillFromKey(value, names, routingKey);
}

function fillFromKey(value: unknown, names: TopicNames, routingKey: string): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return parse(value);
  const obj: Record<string, unknown> = { ...value };
  const filled = FIELDS.filter((f) => obj[f] === undefined || obj[f] === null);
  for (const f of filled) obj[f] = names[f];
  const r = parse(obj);
  if (r.ok) return r;
  return {
    ok: false,
    problems: annotate(r.problems, filled, `(taken from the routing key "${routingKey}")`),
  };
}

/**
 * The largest message body the consumer reads (64 KiB). An event is a few hundred bytes; a bigger
 * body is not parsed (no JSON.parse of megabytes per delivery) and is dead-lettered with a reason.
 * The broker's own max_message_size (128 MiB by default) bounds what can arrive at all.
 */
export const MAX_BODY_BYTES = 64 * 1024;

/** The AMQP properties a delivery's reading depends on: every one is publisher input. */
export interface DeliveryLike {
  content: Buffer;
  fields: { routingKey: string };
  properties: { messageId?: unknown; contentEncoding?: unknown; headers?: unknown };
}

// ignoreBOM keeps a leading BOM in the text, so JSON.parse refuses it as before (RFC 8259 §8.1).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bodyProblem(rule: string, value?: string): ParseResult {
  return { ok: false, problems: [{ field: '(body)', rule, ...(value === undefined ? {} : { value }) }] };
}

/** A message_id that satisfies the contract's id rule (1-128 printable ASCII), else undefined. */
export function usableMessageId(v: unknown): string | undefined {
  return typeof v === 'string' && ID_RE.test(v) ? v : undefined;
}

/**
 * Reads one delivery as the consumer counts it and as `dlq list` explains it (one function, so
 * both agree): the body is bounded (MAX_BODY_BYTES), must be valid UTF-8 JSON, and is checked by
 * parseDelivery(). An event without a body id takes the AMQP message_id only when that satisfies
 * the id rule; otherwise it is counted without one. No property or header can make it throw.
 */
export function readDelivery(msg: DeliveryLike, prefix: readonly string[]): ParseResult {
  const size = msg.content.length;
  if (size > MAX_BODY_BYTES)
    return bodyProblem(`at most ${MAX_BODY_BYTES} bytes (one event); this body has ${size}`);
  let text: string;
  try {
    text = utf8.decode(msg.content);
  } catch {
    const enc = msg.properties.contentEncoding;
    const note =
      typeof enc === 'string' && enc ? ` (content_encoding "${enc.slice(0, 40)}" is not decoded)` : '';
    return bodyProblem(`must be UTF-8 JSON: the bytes are not valid UTF-8${note}`);
  }
  const r = parseDelivery(text, msg.fields.routingKey, prefix);
  if (r.ok && r.event.id === undefined) {
    const id = usableMessageId(msg.properties.messageId);
    if (id !== undefined) r.event.id = id;
  }
  if (r.ok) {
    const pub = usablePub(msg.properties.headers);
    if (pub !== undefined) r.event.pub = pub;
  }
  return r;
}

/** The x-warren-pub header (reconcile's publish tag) when well-formed, else undefined: input too. */
export function usablePub(headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const v: unknown = (headers as Record<string, unknown>)[PUB_HEADER];
  return typeof v === 'string' && PUB_RE.test(v) ? v : undefined;
}
