// The alert contract, written once (README "Alerts"): what analytics publishes to the `alertas`
// exchange when a rule fires or resolves, and what the deliverer POSTs. Analytics renders the
// webhook body and signs it with the rule's secret before publishing, so the secret never
// travels through the broker and the deliverer needs no store: it sends `body` as it is, with
// `signature` in `X-Warren-Signature`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const ALERT_KINDS = ['silence', 'threshold', 'dead_letters'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** One firing or resolution, as the generic JSON webhook body carries it. */
export const alertSchema = z.object({
  /** Stable per (rule, episode start) and state: receivers dedupe by it (delivery is at-least-once). */
  id: z.string().min(1).max(300),
  state: z.enum(['fired', 'resolved']),
  rule: z.object({
    id: z.string().min(1).max(100),
    kind: z.enum(ALERT_KINDS),
    cliente: z.string().optional(),
    evento: z.string().optional(),
  }),
  /** RFC 3339, UTC: when the episode started (the same for its firing and its resolution). */
  episode_start: z.string(),
  /** RFC 3339, UTC: when this state was reached. */
  at: z.string(),
  /** One sentence for a person. */
  summary: z.string(),
  /** The figures behind it (count, window, last event, dead letters…). */
  detail: z.record(z.string(), z.unknown()).default({}),
});
export type Alert = z.infer<typeof alertSchema>;

/** The message on the `alertas` exchange: one webhook call, ready to send. */
export const alertMessageSchema = z.object({
  alert: alertSchema,
  url: z.string().regex(/^https?:\/\/[^\s]+$/),
  format: z.enum(WEBHOOK_FORMATS),
  /** The exact bytes to POST (UTF-8 JSON). */
  body: z.string(),
  /** `sha256=<hex HMAC-SHA256 of body under the rule's secret>`. */
  signature: z.string().regex(/^sha256=[0-9a-f]{64}$/),
});
export type AlertMessage = z.infer<typeof alertMessageSchema>;

/** An alert's id: one per (rule, episode start, state), so receivers and the outbox dedupe by it. */
export function alertId(rule: string, episodeStart: number, state: Alert['state']): string {
  return `${rule}:${new Date(episodeStart).toISOString()}:${state}`;
}

export const SIGNATURE_HEADER = 'X-Warren-Signature';

/** The webhook body: the alert itself, or a Slack incoming-webhook message (`text`) carrying it. */
export function renderBody(alert: Alert, format: WebhookFormat): string {
  if (format === 'json') return JSON.stringify(alert);
  const mark = alert.state === 'fired' ? ':rotating_light:' : ':white_check_mark:';
  return JSON.stringify({ text: `${mark} ${alert.summary}`, warren: alert });
}

export function sign(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** How a receiver checks a delivery (README "Alerts" shows the same in a few lines). */
export function verify(body: string, signature: string, secret: string): boolean {
  const want = Buffer.from(sign(body, secret));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function buildMessage(alert: Alert, url: string, format: WebhookFormat, secret: string): AlertMessage {
  const body = renderBody(alert, format);
  return { alert, url, format, body, signature: sign(body, secret) };
}
