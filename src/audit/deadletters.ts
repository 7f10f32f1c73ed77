// Reading and replaying the dead-letter queue without losing or copying a message.
//
// Scan: basic.get with manual acks, one message at a time, holding every one unacked on this
// channel. A held message is not delivered again, so each is seen exactly once per scan; at the
// end whatever was not replayed is nacked back (requeue=true), and a crash or a lost connection
// hands them back too (AMQP 0-9-1: unacked deliveries are requeued on channel close). Replayed
// ones are acked with one multiple-ack (see settleReplayed for why not one ack each).
// On a quorum DLQ a requeue keeps the order (positions shown by `list` stay valid) and raises
// x-delivery-count, which is harmless there: the DLQ has no x-delivery-limit.
// Why not consume: basic.get stops by itself at the end of the queue, with no prefetch to tune.
import type { Channel, ConfirmChannel, GetMessage, Options } from 'amqplib';
import { reason } from '../event.js';
import { MAX_BODY_BYTES, readDelivery, usableMessageId } from '../topic.js';

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
  /** A valid event's own time (what the dedupe horizon is compared with), else undefined. */
  eventTime: string | undefined;
  cliente: string | undefined;
  preview: string;
}

export interface Held {
  msg: GetMessage;
  info: DeadLetter;
  /** Acked off the DLQ (replayed): release() leaves it alone. */
  settled?: boolean;
}

type Headers = Record<string, unknown>;
const PREVIEW = 160;

// The latest time a Date can hold (ECMA-262 §21.4.1.22: ±8.64e15 ms), in seconds.
const MAX_DATE_S = 8.64e12;

/** An AMQP timestamp (publisher input, any value) as RFC 3339, or undefined when it is not one. */
function amqpTime(v: unknown): string | undefined {
  // amqplib decodes AMQP timestamps in tables as {'!': 'timestamp', value: seconds}.
  const s = typeof v === 'number' ? v : (v as { value?: unknown } | null | undefined)?.value;
  if (typeof s !== 'number' || !Number.isFinite(s) || Math.abs(s) > MAX_DATE_S) return undefined;
  return new Date(s * 1000).toISOString().replace('.000Z', 'Z');
}

function firstDeath(headers: Headers | undefined): { reason?: unknown; time?: unknown } | undefined {
  const deaths = headers?.['x-death'];
  const first: unknown = Array.isArray(deaths) ? deaths[0] : undefined;
  return typeof first === 'object' && first !== null
    ? (first as { reason?: unknown; time?: unknown })
    : undefined;
}

/** Why a valid event is in the DLQ, from the broker's x-death reason. */
function validReason(death: string | undefined): string {
  if (death === 'delivery_limit')
    return 'valid event, dead-lettered by the broker at its delivery limit (delivery_limit: consumers crashed or were killed while holding it); replay counts it';
  if (death === 'rejected')
    return 'valid event, refused by the store when analytics counted it (the analytics log has the store error); replay tries it again';
  return `valid event, dead-lettered by the broker (${death ?? 'unknown reason'}); replay counts it`;
}

/** What `dlq list` shows about one message; the reason is recomputed from the body (deterministic). */
export function inspect(msg: GetMessage, position: number, prefix: readonly string[] = []): DeadLetter {
  const raw: unknown = msg.properties.headers;
  const headers = typeof raw === 'object' && raw !== null ? (raw as Headers) : undefined;
  const death = firstDeath(headers);
  const deathReason =
    typeof death?.reason === 'string'
      ? death.reason
      : typeof headers?.['x-first-death-reason'] === 'string'
        ? (headers['x-first-death-reason'] as string)
        : undefined;
  // The routing key may name cliente/evento (MQTT/STOMP topics), as the consumer reads it.
  // The same reading as the consumer's (size bound, UTF-8, the message_id rule).
  const r = readDelivery(msg, prefix);
  const text = msg.content.subarray(0, PREVIEW * 4).toString('utf8');
  let body: Record<string, unknown> = {};
  try {
    const v: unknown =
      msg.content.length <= MAX_BODY_BYTES ? JSON.parse(msg.content.toString('utf8')) : undefined;
    if (v && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
  } catch {
    // not JSON: the reason says so
  }
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const messageId = usableMessageId(msg.properties.messageId);
  return {
    position,
    id: (r.ok ? r.event.id : str(body.id)) ?? messageId,
    valid: r.ok,
    reason: r.ok ? validReason(deathReason) : reason(r.problems),
    death: deathReason,
    time: amqpTime(death?.time) ?? amqpTime(msg.properties.timestamp),
    eventTime: r.ok ? r.event.timestamp : undefined,
    cliente: str(body.cliente) ?? str(msg.properties.appId),
    preview: text.length > PREVIEW || msg.content.length > PREVIEW * 4 ? `${text.slice(0, PREVIEW)}…` : text,
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

/** Hands every held message not replayed back to the DLQ, in order, once. */
export function release(ch: Channel, held: Held[]): void {
  // One command when nothing was settled (list): nack-all keeps the order.
  if (!held.some((h) => h.settled)) ch.nackAll(true);
  else
    for (const h of held) {
      if (h.settled) continue;
      ch.nack(h.msg, false, true);
      h.settled = true;
    }
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
 * only then acks them off the DLQ (settleReplayed). Invalid ones stay held (release() puts them
 * back, once). A crash between confirm and ack leaves a copy in the DLQ: replaying it again is
 * harmless (same id).
 */
export async function replay(
  get: Channel,
  pub: ConfirmChannel,
  exchange: string,
  targets: Held[],
  opts: { dlq: string; held: Held[]; chunk?: number },
): Promise<ReplayResult> {
  const chunk = opts.chunk ?? 200;
  const out: ReplayResult = { replayed: [], invalid: [], unroutable: [] };
  const returned = new Set<string>();
  const onReturn = (m: { properties: { headers?: Headers } }) => {
    const token = m.properties.headers?.['x-warren-dlq-replay'];
    if (typeof token === 'string') returned.add(token);
  };
  pub.on('return', onReturn);
  const confirmed: Held[] = [];
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
          confirmed.push(h);
          out.replayed.push(h.info);
        }
      }
    }
  } finally {
    pub.off('return', onReturn);
    await settleReplayed(get, opts.dlq, opts.held, confirmed);
  }
  return out;
}

const SETTLE_WAIT_MS = 15_000;

/**
 * Acks the replayed messages off the DLQ with ONE basic.ack(multiple): on a RabbitMQ 3.10 quorum
 * queue, hundreds of single acks followed by the channel's close lost some of them (the queue
 * client pipelines a bounded number of commands and drops what it still buffers when the channel
 * goes), and those replayed events stayed in the DLQ as copies. Held messages below the last
 * replayed one that were not replayed are first handed back (nack requeue) and awaited (the DLQ's
 * ready count shows them back), so the multiple-ack covers the replayed ones only.
 */
async function settleReplayed(get: Channel, dlq: string, held: Held[], replayed: Held[]): Promise<void> {
  if (replayed.length === 0) return;
  try {
    const done = new Set(replayed);
    const last = replayed.reduce((a, b) => (b.msg.fields.deliveryTag > a.msg.fields.deliveryTag ? b : a));
    const lastTag = last.msg.fields.deliveryTag;
    const below = held.filter((h) => !done.has(h) && !h.settled && h.msg.fields.deliveryTag < lastTag);
    if (below.length > 0) {
      const base = (await get.checkQueue(dlq)).messageCount;
      for (const h of below) {
        get.nack(h.msg, false, true);
        h.settled = true;
      }
      const deadline = Date.now() + SETTLE_WAIT_MS;
      while ((await get.checkQueue(dlq)).messageCount < base + below.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
    }
    get.ack(last.msg, true);
    for (const h of replayed) h.settled = true;
  } catch {
    // The channel is gone: the broker hands every held message back; replaying a copy again is
    // harmless (same id).
  }
}

/** The held messages `--id` names: by event id or message_id, else by position (N or #N). */
export function select(held: Held[], id: string): Held[] {
  const byId = held.filter((h) => h.info.id === id || h.msg.properties.messageId === id);
  if (byId.length) return byId;
  const pos = /^#?(\d+)$/.exec(id);
  return pos ? held.filter((h) => h.info.position === Number(pos[1])) : [];
}

/** What the DLQ holds: valid events (replayable) and invalid messages, as `dlq list` tells them. */
export interface DeadLetterKinds {
  /** Bodies that parse as events: the delivery limit or the store's refusal put them there. */
  valid: number;
  invalid: number;
  /** Messages beyond the scan's limit, not looked at. */
  unscanned: number;
}

/**
 * Counts the kinds in the DLQ with one scan (held unacked, then handed back in order, once), at
 * most `limit` messages. Its own channel: closing it hands back anything still held.
 */
export async function countKinds(
  conn: { createChannel(): Promise<Channel> },
  dlq: string,
  limit: number,
  prefix: readonly string[] = [],
): Promise<DeadLetterKinds> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    const held = await scan(ch, dlq, limit, prefix);
    const rest = held.length < limit ? 0 : (await ch.checkQueue(dlq)).messageCount;
    release(ch, held);
    const valid = held.filter((h) => h.info.valid).length;
    return { valid, invalid: held.length - valid, unscanned: rest };
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/**
 * countKinds() for a status endpoint polled every few seconds: scans again only when the DLQ's
 * depth changed or the last scan is older than maxAgeMs, and one scan at a time. A scan holds
 * the messages for the moment it reads them: a `dlq list` or `dlq replay` started in that moment
 * sees fewer (a second run finds the rest); an unchanged DLQ is not scanned again for a minute.
 */
export class DeadLetterCensus {
  private last: { depth: number; at: number; kinds: DeadLetterKinds } | undefined;
  private pending: Promise<DeadLetterKinds> | undefined;

  constructor(
    private readonly dlq: string,
    private readonly prefix: readonly string[],
    private readonly limit = 10_000,
    private readonly maxAgeMs = 60_000,
  ) {}

  async kinds(conn: { createChannel(): Promise<Channel> }, depth: number): Promise<DeadLetterKinds> {
    if (depth === 0) return { valid: 0, invalid: 0, unscanned: 0 };
    const l = this.last;
    if (l && l.depth === depth && Date.now() - l.at < this.maxAgeMs) return l.kinds;
    this.pending ??= countKinds(conn, this.dlq, this.limit, this.prefix)
      .then((kinds) => {
        this.last = { depth, at: Date.now(), kinds };
        return kinds;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
