// An alert rule, written once (README "Alerts"): what `warren alerts add` and POST /api/v1/alerts
// accept, what the store keeps, and what GET /api/v1/alerts shows (never the secret, and the
// webhook without the credentials or query a URL may carry). Kernel, so the CLI (src/alerts/) and
// the API (src/analytics/) validate the same way.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type AlertKind, WEBHOOK_FORMATS, type WebhookFormat } from './alert.js';
import { CLIENTE_RE, EVENTO_RE, RULES } from './event.js';

/** A year, in minutes: a longer window is a mistake, not a rule. */
const MAX_MINUTES = 525_600;

const cliente = z.string().regex(CLIENTE_RE, `cliente must be ${RULES.cliente}`);
const evento = z.string().regex(EVENTO_RE, `evento must be ${RULES.evento}`);
const minutes = z
  .number()
  .positive('minutes must be above 0')
  .max(MAX_MINUTES, `minutes must be at most ${MAX_MINUTES}`);
const limit = z.number().min(0, 'thresholds are counts: 0 or more').max(1e12);
const webhook = z
  .string()
  .max(2000)
  .refine(isWebhookUrl, 'webhook must be an http:// or https:// URL with a host')
  // Kept as the URL parser writes it (`HTTP://Host` → `http://host/`): the one spelling the
  // alert message's schema and every HTTP client accept.
  .transform((s) => new URL(s).href);
const common = {
  webhook,
  format: z.enum(WEBHOOK_FORMATS).default('json'),
  secret: z.string().min(8, 'secret must have at least 8 characters').max(200).optional(),
};

/** A rule as asked for (the POST body; the CLI builds the same object from its options). */
export const ruleInputSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('silence'), cliente, evento: evento.optional(), minutes, ...common }),
  z
    .strictObject({
      kind: z.literal('threshold'),
      cliente,
      evento,
      minutes,
      above: limit.optional(),
      below: limit.optional(),
      ...common,
    })
    .refine((r) => (r.above === undefined) !== (r.below === undefined), {
      message: 'a threshold rule needs exactly one of above or below',
      path: ['above'],
    }),
  z
    .strictObject({
      kind: z.literal('dead_letters'),
      above: limit.int('above must be a whole number of messages').optional(),
      valid: z.literal(true).optional(),
      ...common,
    })
    .refine((r) => (r.above === undefined) !== (r.valid === undefined), {
      message: 'a dead_letters rule needs exactly one of above (a message count) or valid: true',
      path: ['above'],
    }),
]);
export type RuleInput = z.input<typeof ruleInputSchema>;

/** What a rule watches and how it notifies: the same in the store and in the API. */
interface RuleFields {
  id: string;
  kind: AlertKind;
  cliente?: string;
  evento?: string;
  minutes?: number;
  above?: number;
  below?: number;
  valid?: boolean;
  webhook: string;
  format: WebhookFormat;
}

/** A rule as the store keeps it. Times are epoch milliseconds. */
export interface Rule extends RuleFields {
  secret: string;
  created: number;
  /** The open episode's start while the rule fires; undefined while it is ok. */
  openSince?: number;
}

/** A rule as GET /api/v1/alerts shows it. */
export interface PublicRule extends RuleFields {
  created: string;
  state: 'ok' | 'firing';
  since?: string;
}

function isWebhookUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && !/\s/.test(s);
  } catch {
    return false;
  }
}

/** Validation problems as the contract's details: one `{field, rule}` each. */
export function ruleProblems(err: z.ZodError): { field: string; rule: string }[] {
  return err.issues.map((i) => ({ field: i.path.join('.') || 'body', rule: i.message }));
}

/** A validated input made a rule: a new id, and a secret when none was given (shown once). */
export function newRule(input: z.output<typeof ruleInputSchema>, now: number): Rule {
  const { secret, ...rest } = input;
  return {
    ...rest,
    id: `r_${randomBytes(6).toString('hex')}`,
    secret: secret ?? randomBytes(24).toString('base64url'),
    created: now,
  };
}

/** The webhook without userinfo, query or fragment (they may carry a token). */
export function displayUrl(url: string): string {
  try {
    // Scheme and host only: a webhook's path can be its credential (a Slack hook's token is its
    // path), and readers of the rules are not all allowed to post to it.
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '/' : '/…'}`;
  } catch {
    return '';
  }
}

export function publicRule(r: Rule): PublicRule {
  const out: PublicRule = { id: r.id, kind: r.kind } as PublicRule;
  if (r.cliente !== undefined) out.cliente = r.cliente;
  if (r.evento !== undefined) out.evento = r.evento;
  if (r.minutes !== undefined) out.minutes = r.minutes;
  if (r.above !== undefined) out.above = r.above;
  if (r.below !== undefined) out.below = r.below;
  if (r.valid !== undefined) out.valid = r.valid;
  out.webhook = displayUrl(r.webhook);
  out.format = r.format;
  out.created = new Date(r.created).toISOString();
  out.state = r.openSince === undefined ? 'ok' : 'firing';
  if (r.openSince !== undefined) out.since = new Date(r.openSince).toISOString();
  return out;
}

/** One line for a person: what the rule watches. */
export function describeRule(
  r: Pick<Rule, 'kind' | 'cliente' | 'evento' | 'minutes' | 'above' | 'below' | 'valid'>,
): string {
  const who = r.evento === undefined ? `${r.cliente}` : `${r.cliente}/${r.evento}`;
  if (r.kind === 'silence') return `no events from ${who} for ${r.minutes} min`;
  if (r.kind === 'threshold') {
    const side = r.above !== undefined ? `above ${r.above}` : `below ${r.below}`;
    return `count of ${who} in ${r.minutes} min ${side}`;
  }
  return r.valid ? 'valid events dead-lettered' : `dead-letter queue above ${r.above} messages`;
}
