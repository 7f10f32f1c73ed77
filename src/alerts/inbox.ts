// Reading what arrives on the alert queue, and writing what cannot be delivered to the dead-letter
// queue with its reason. Every message is untrusted input: whatever it holds, it is delivered or
// dead-lettered, and never stops the deliverer.
import type { ConsumeMessage, Options } from 'amqplib';
import { type AlertMessage, alertMessageSchema } from '../alert.js';
import type { ConfirmedPublisher } from '../broker/index.js';
import { urlHost } from './webhook.js';

/** A webhook message is a small JSON document; anything larger is not one of ours. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** The headers a dead letter carries (README "Alerts" > "Delivery"). */
export const DEAD_HEADERS = {
  reason: 'x-warren-reason',
  attempts: 'x-warren-attempts',
  lastStatus: 'x-warren-last-status',
  lastError: 'x-warren-last-error',
  alertId: 'x-warren-alert-id',
  host: 'x-warren-webhook-host',
  at: 'x-warren-dead-lettered-at',
} as const;

export interface DeadLetter {
  reason: string;
  attempts: number;
  lastStatus?: number | undefined;
  lastError?: string | undefined;
}

export type Parsed = { ok: true; message: AlertMessage } | { ok: false; reason: string };

function clip(s: string, n = 300): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export function parseDelivery(content: Buffer): Parsed {
  if (content.length > MAX_MESSAGE_BYTES)
    return { ok: false, reason: `too large: ${content.length} bytes (at most ${MAX_MESSAGE_BYTES})` };
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: clip(`not JSON: ${(err as Error).message}`) };
  }
  const r = alertMessageSchema.safeParse(json);
  if (r.success) return { ok: true, message: r.data };
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
  return { ok: false, reason: clip(`not an alert message: ${issues.join('; ')}`) };
}

export class Inbox {
  constructor(private readonly publisher: ConfirmedPublisher) {}

  /**
   * Publishes a copy of msg (its body untouched) to the dead-letter exchange, persistent, and
   * resolves once the broker confirmed it; the caller acks the original only then. A connection
   * lost in between sends the copy again (the publisher retries until confirmed), so a dead letter
   * may be written twice, never lost.
   */
  async deadLetter(msg: ConsumeMessage, dead: DeadLetter, message?: AlertMessage): Promise<void> {
    const headers: Record<string, string | number> = {
      [DEAD_HEADERS.reason]: dead.reason,
      [DEAD_HEADERS.attempts]: dead.attempts,
      [DEAD_HEADERS.at]: new Date().toISOString(),
    };
    if (dead.lastStatus !== undefined) headers[DEAD_HEADERS.lastStatus] = dead.lastStatus;
    if (dead.lastError !== undefined) headers[DEAD_HEADERS.lastError] = dead.lastError;
    if (message) {
      headers[DEAD_HEADERS.alertId] = message.alert.id;
      headers[DEAD_HEADERS.host] = urlHost(message.url);
    }
    // The original's headers are not copied: they are untrusted (any size, any depth).
    const props: Options.Publish = {
      persistent: true,
      contentType: 'application/json',
      timestamp: Math.floor(Date.now() / 1000),
      headers,
      // message_id is an AMQP shortstr (at most 255 bytes): only an id that surely fits is used.
      ...(message && /^[\x20-\x7e]{1,200}$/.test(message.alert.id) ? { messageId: message.alert.id } : {}),
    };
    await this.publisher.publishRaw([{ body: msg.content, props }]);
  }
}
