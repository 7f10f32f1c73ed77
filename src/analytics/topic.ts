// Events published over MQTT or STOMP (issue 11) land in `amq.topic` with a routing key
// `<prefix>.<cliente>.<evento>`: the MQTT plugin turns the topic `eventos/cliente_uno/click` into
// `eventos.cliente_uno.click` (it maps `/` to `.` and leaves dots alone), and a STOMP SEND to
// `/topic/eventos.cliente_uno.click` uses the key as written (RabbitMQ docs: "MQTT Plugin", topic
// translation; "STOMP Plugin", destinations). The exchange-to-exchange binding amq.topic →
// eventos_clientes keeps the publisher's routing key, so the consumer sees it on every delivery.
// A body that omits `cliente` or `evento` takes it from that key; a body's own value always wins.
import { type ParseResult, type Problem, parse, parseBody } from '../event.js';

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
