// Reading and replaying the dead-letter queue without losing or copying a message.
//
// Scan: basic.get with manual acks, one message at a time, holding every one unacked on this
// channel. A held message is not delivered again, so each is seen exactly once per scan; at the
// end nack(multiple, requeue=true) hands back whatever was not replayed, and a crash or a lost
// connection hands them back too (AMQP 0-9-1: unacked deliveries are requeued on channel close).
// On a quorum DLQ a requeue keeps the order (positions shown by `list` stay valid) and raises
// x-delivery-count, which is harmless there: the DLQ has no x-delivery-limit.
// Why not consume: basic.get stops by itself at the end of the queue, with no prefetch to tune.
import type { Channel, ConfirmChannel, GetMessage, Options } from 'amqplib';
import { parseDelivery } from '../analytics/topic.js';
import { reason } from '../event.js';

export interface DeadLetter {
  /** 1-based place in the DLQ at scan time; `dlq replay --id N` accepts it. */
  position: number;
  /** The event id from the body, else the AMQP message_id. */
  id: string | undefined;
  valid: boolean;
  /** Why it cannot be counted (the schema's verdict), or why a valid event got here. */
  reason: string;
  /** The broker's x-death reason: rejected (the consumer refused it), delivery_limit, expired… */
  death: string | undefined;
  /** When it was dead-lettered (x-death time), else when it was published. */
  time: string | undefined;
  cliente: string | undefined;
  preview: string;
}

export interface Held {
  msg: GetMessage;
  info: DeadLetter;
}

type Headers = Record<string, unknown>;
const PREVIEW = 160;

function amqpTime(v: unknown): string | undefined {
  // amqplib decodes AMQP timestamps in tables as {'!': 'timestamp', value: seconds}.
  const s = typeof v === 'number' ? v : (v as { value?: unknown } | undefined)?.value;
  return typeof s === 'number' ? new Date(s * 1000).toISOString().replace('.000Z', 'Z') : undefined;
}

function firstDeath(headers: Headers | undefined): { reason?: unknown; time?: unknown } | undefined {
  const deaths = headers?.['x-death'];
  return Array.isArray(deaths) ? (deaths[0] as { reason?: unknown; time?: unknown }) : undefined;
}

/** What `dlq list` shows about one message; the reason is recomputed from the body (deterministic). */
export function inspect(msg: GetMessage, position: number, prefix: readonly string[] = []): DeadLetter {
  const headers = msg.properties.headers as Headers | undefined;
  const death = firstDeath(headers);
  const deathReason =
    typeof death?.reason === 'string'
      ? death.reason
      : typeof headers?.['x-first-death-reason'] === 'string'
        ? (headers['x-first-death-reason'] as string)
        : undefined;
  // The routing key may name cliente/evento (MQTT/STOMP topics), as the consumer reads it.
  const r = parseDelivery(msg.content, msg.fields.routingKey, prefix);
  const text = msg.content.toString('utf8');
  let body: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
  } catch {
    // not JSON: the reason says so
  }
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const messageId = str(msg.properties.messageId);
  return {
    position,
    id: (r.ok ? r.event.id : str(body.id)) ?? messageId,
    valid: r.ok,
    reason: r.ok
      ? `valid event, dead-lettered by the broker (${deathReason ?? 'unknown reason'}); replay counts it`
      : reason(r.problems),
    death: deathReason,
    time: amqpTime(death?.time) ?? amqpTime(msg.properties.timestamp),
    cliente: str(body.cliente) ?? str(msg.properties.appId),
    preview: text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text,
  };
}

/** Takes up to `limit` messages off the DLQ, held unacked on `ch`; release() or replay settles them. */
export async function scan(
  ch: Channel,
  dlq: string,
  limit: number,
  prefix: readonly string[] = [],
): Promise<Held[]> {
  const held: Held[] = [];
  while (held.length < limit) {
    const msg = await ch.get(dlq, { noAck: false });
    if (!msg) break;
    held.push({ msg, info: inspect(msg, held.length + 1, prefix) });
  }
  return held;
}

/** Hands every held message back to the DLQ, in order, once. */
export function release(ch: Channel): void {
  ch.nackAll(true);
}

/** Properties for the republished copy: the original ones minus the broker's dead-letter trail. */
export function republishProps(msg: GetMessage): Options.Publish {
  const p = msg.properties;
  const headers: Headers = {};
  for (const [k, v] of Object.entries((p.headers ?? {}) as Headers)) {
    if (
      k !== 'x-death' &&
      k !== 'x-delivery-count' &&
      !k.startsWith('x-first-death-') &&
      !k.startsWith('x-last-death-')
    )
      headers[k] = v;
  }
  return {
    contentType: p.contentType ?? 'application/json',
    contentEncoding: p.contentEncoding,
    headers,
    persistent: true,
    messageId: p.messageId,
    correlationId: p.correlationId,
    timestamp: p.timestamp,
    type: p.type,
    appId: p.appId,
    // Unroutable (nothing bound) comes back as basic.return instead of vanishing with an ack.
    mandatory: true,
  };
}

export interface ReplayResult {
  replayed: DeadLetter[];
  invalid: DeadLetter[];
  unroutable: DeadLetter[];
}

/**
 * Publishes the valid ones among `targets` to the exchange, waits for the broker's confirms, and
 * only then acks them off the DLQ. Invalid ones stay held (release() puts them back, once). A crash
 * between confirm and ack leaves a copy in the DLQ: replaying it again is harmless (same id).
 */
export async function replay(
  get: Channel,
  pub: ConfirmChannel,
  exchange: string,
  targets: Held[],
  chunk = 200,
): Promise<ReplayResult> {
  const out: ReplayResult = { replayed: [], invalid: [], unroutable: [] };
  const returned = new Set<string>();
  const onReturn = (m: { properties: { headers?: Headers } }) => {
    const token = m.properties.headers?.['x-warren-dlq-replay'];
    if (typeof token === 'string') returned.add(token);
  };
  pub.on('return', onReturn);
  try {
    for (let i = 0; i < targets.length; i += chunk) {
      const sent: Held[] = [];
      for (const h of targets.slice(i, i + chunk)) {
        if (!h.info.valid) {
          out.invalid.push(h.info);
          continue;
        }
        const props = republishProps(h.msg);
        props.headers = { ...props.headers, 'x-warren-dlq-replay': `${h.msg.fields.deliveryTag}` };
        // Same routing key: a topic-named event keeps its names (the fanout exchange ignores it).
        pub.publish(exchange, h.msg.fields.routingKey, h.msg.content, props);
        sent.push(h);
      }
      // Rejects if the broker nacked any of them: nothing of this chunk is acked then.
      if (sent.length) await pub.waitForConfirms();
      for (const h of sent) {
        if (returned.has(`${h.msg.fields.deliveryTag}`)) out.unroutable.push(h.info);
        else {
          get.ack(h.msg);
          out.replayed.push(h.info);
        }
      }
    }
  } finally {
    pub.off('return', onReturn);
  }
  return out;
}

/** The held messages `--id` names: by event id or message_id, else by position (N or #N). */
export function select(held: Held[], id: string): Held[] {
  const byId = held.filter((h) => h.info.id === id || h.msg.properties.messageId === id);
  if (byId.length) return byId;
  const pos = /^#?(\d+)$/.exec(id);
  return pos ? held.filter((h) => h.info.position === Number(pos[1])) : [];
}
