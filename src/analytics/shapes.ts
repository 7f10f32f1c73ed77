// The analytics API's answers, written once (CONTRACT.md, "Analytics"). The types the panel and the
// tests use are inferred from these schemas, and the OpenAPI document (docs.ts) is generated from
// them, so the code, the docs and the panel cannot drift apart; test/analytics-openapi.test.ts
// checks real answers against the served document. The schemas document the answers: the routes
// do not re-validate or re-serialise them (the report bodies are cached bytes, views.ts).
import { z } from 'zod';

const count = z.number().int().min(0);
const name = z.string().describe('A client or event name (the event contract’s rules).');
const time = z
  .string()
  .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
  .describe('RFC 3339, UTC, e.g. 2025-04-13T12:00:00Z');
const rangeEnd = (side: string) =>
  time.nullable().describe(`The range’s ${side} as asked (RFC 3339, UTC); null when open.`);

export const bucketShape = z.enum(['minute', 'hour', 'day']);

/** GET /reporte: all time, clients largest first. */
export const reporteShape = z.strictObject({
  total: count.describe('Every event counted.'),
  clientes: z.record(z.string(), count).describe('Each client’s total, largest first.'),
});

export const reportClientShape = z.strictObject({
  cliente: name,
  total: count,
  eventos: z.record(z.string(), count).describe('Each event’s count, largest first.'),
  usuarios: count
    .optional()
    .describe('Distinct users (usuario) in the range; absent when none of its events carried one.'),
});

/** GET /api/v1/report. */
export const reportShape = z.strictObject({
  from: rangeEnd('start (inclusive)'),
  to: rangeEnd('end (exclusive)'),
  total: count,
  clientes: z.array(reportClientShape).describe('Clients largest first.'),
});

export const pointShape = z.strictObject({
  t: time.describe('The bucket’s start (RFC 3339, UTC).'),
  count,
});

/** GET /api/v1/timeseries: UTC buckets of event time, oldest first. */
export const timeseriesShape = z.strictObject({
  bucket: bucketShape,
  from: rangeEnd('start (inclusive)'),
  to: rangeEnd('end (exclusive)'),
  points: z.array(pointShape),
});

/** GET /api/v1/uniques: distinct users (usuario) in the range, and per bucket with `bucket`. */
export const uniquesShape = z.strictObject({
  from: rangeEnd('start (inclusive)'),
  to: rangeEnd('end (exclusive)'),
  bucket: bucketShape.optional(),
  usuarios: count.describe('Distinct users in the whole range (each client’s users are its own).'),
  points: z
    .array(z.strictObject({ t: time.describe('The bucket’s start (RFC 3339, UTC).'), usuarios: count }))
    .optional()
    .describe('With `bucket`: distinct users per bucket, oldest first.'),
});

/** GET /api/v1/status: the queue as the broker reports it, and this process's counts since it started. */
export const statusShape = z.strictObject({
  queue: z.strictObject({
    name: z.string(),
    messages: count.nullable().describe('Ready messages; null when the broker did not answer.'),
    consumers: count.nullable(),
  }),
  deadLetters: count.nullable().describe('Messages in the dead-letter queue; null when unknown.'),
  deadLettersDetail: z
    .strictObject({ valid: count, invalid: count, unscanned: count })
    .nullable()
    .describe('The dead letters by kind: valid events (replayable) and invalid messages.'),
  processed: count.describe('Events counted by this process since it started.'),
  duplicates: count.describe('Deliveries of known ids, dropped.'),
  invalid: count.describe('Messages dead-lettered as never countable.'),
  withoutId: count.describe('Events counted without an id (no deduplication).'),
  refusedByStore: count,
  eventsPerSecond: z.number().min(0),
  lastBatchAt: time.nullable(),
  ready: z.strictObject({ broker: z.boolean(), store: z.boolean() }),
});

/** One line of GET /api/v1/export (NDJSON; the CSV has the same columns). */
export const exportRowShape = z.strictObject({
  cliente: name,
  evento: name,
  t: time.describe('The bucket’s start (RFC 3339, UTC).'),
  count,
});

/** One line of GET /api/v1/export?kind=uniques (NDJSON; the CSV has the same columns). */
export const exportUniquesRowShape = z.strictObject({
  cliente: name,
  t: time.describe('The bucket’s start (RFC 3339, UTC).'),
  usuarios: count.describe(
    'Distinct users of the client in the bucket (of the event type, with evento). Buckets do not add up: a user in two buckets is one user of both; /api/v1/uniques gives a range’s own.',
  ),
});

const ledgerCounts = {
  accepted: count.describe('Events reporting publishers had confirmed by the broker.'),
  uncertain: count.describe(
    'Attempted but never confirmed (a 503, a timeout, a killed publisher): maybe held.',
  ),
  counted: count.describe('Events of reporting publishers counted.'),
  duplicates: count.describe('Copies under an id already counted, one per publish (not per delivery).'),
  dead_valid: count.describe('Valid events of reporting publishers in the dead-letter queue.'),
  dead_invalid: count.describe('Invalid messages in the dead-letter queue (outside the equation).'),
  unreported: count.describe('Events from publishers that do not report (outside the equation).'),
};

/** One (cliente, minute of event time) of GET /api/v1/reconcile. */
export const reconcileRowShape = z.strictObject({
  cliente: name.nullable().describe('null for a dead letter whose body names no valid client.'),
  t: time
    .nullable()
    .describe('The minute’s start (RFC 3339, UTC); null for a dead letter without a valid time.'),
  ...ledgerCounts,
  balanced: z
    .boolean()
    .describe('accepted ≤ counted + duplicates + dead_valid ≤ accepted + uncertain holds.'),
});

/** GET /api/v1/reconcile: the equation per (cliente, minute), and whether it holds. */
export const reconcileShape = z.strictObject({
  from: rangeEnd('start (inclusive)'),
  to: rangeEnd('end (exclusive)'),
  cliente: name.nullable().describe('The client asked for; null for every client.'),
  equation: z.string(),
  status: z
    .enum(['balanced', 'in_flight', 'unbalanced'])
    .describe(
      'balanced: every row holds; in_flight: what does not hold can be events or reports on their way.',
    ),
  balanced: z.boolean(),
  in_flight: z.strictObject({
    events: count.nullable().describe('Events in the main queue or held by the consumer; null when unknown.'),
    reports: count.nullable().describe('Reports waiting in the control queue; null when unknown.'),
  }),
  dead_letters_unscanned: count.describe('Dead letters beyond the scan’s limit, not looked at.'),
  dead_letters_already_counted: count.describe(
    'Valid dead letters that are copies of a publish already counted (not in dead_valid).',
  ),
  totals: z.strictObject(ledgerCounts),
  rows: z.array(reconcileRowShape).describe('Oldest first, then by client.'),
  not_covered: z.string().describe('What the equation does not cover.'),
});

/** GET /readyz. */
export const readyShape = z.strictObject({
  status: z.enum(['ready', 'unavailable']),
  broker: z.boolean(),
  store: z.boolean(),
});

const alertKind = z.enum(['silence', 'threshold', 'dead_letters']);

/** One alert rule as GET /api/v1/alerts shows it (never its secret). */
export const alertRuleShape = z.strictObject({
  id: z.string(),
  kind: alertKind,
  cliente: name.optional(),
  evento: name.optional(),
  minutes: z.number().min(0).optional().describe('The window (silence, threshold), in minutes.'),
  above: z.number().min(0).optional(),
  below: z.number().min(0).optional(),
  valid: z.boolean().optional().describe('dead_letters: fires while valid events are dead-lettered.'),
  webhook: z.string().describe('The webhook URL without credentials, query or fragment.'),
  format: z.enum(['json', 'slack']),
  created: time,
  state: z.enum(['ok', 'firing']),
  since: time.optional().describe('While firing: when the episode started.'),
});

/** One firing or resolution (the id receivers dedupe by: rule, episode start, state). */
export const alertFiringShape = z.strictObject({
  id: z.string(),
  rule: z.string(),
  kind: alertKind,
  state: z.enum(['fired', 'resolved']),
  episode_start: time,
  at: time,
  summary: z.string(),
  published: z.boolean().describe('Whether the broker confirmed its message (the outbox).'),
});

/** GET /api/v1/alerts: the rules with their state, and the latest firings, newest first. */
export const alertsShape = z.strictObject({
  rules: z.array(alertRuleShape),
  firings: z.array(alertFiringShape).describe('Newest first; at most `limit` (100 unless asked).'),
});

/** POST /api/v1/alerts: the rule made, and its signing secret (shown only here). */
export const alertCreatedShape = z.strictObject({
  rule: alertRuleShape,
  secret: z.string().describe('HMAC-SHA256 key of X-Warren-Signature; not shown again.'),
});

export type AlertRuleAnswer = z.infer<typeof alertRuleShape>;
export type AlertFiringAnswer = z.infer<typeof alertFiringShape>;
export type AlertsAnswer = z.infer<typeof alertsShape>;
export type AlertCreated = z.infer<typeof alertCreatedShape>;
export type Bucket = z.infer<typeof bucketShape>;
export type Reporte = z.infer<typeof reporteShape>;
export type ReportClient = z.infer<typeof reportClientShape>;
export type Report = z.infer<typeof reportShape>;
export type Point = z.infer<typeof pointShape>;
export type Timeseries = z.infer<typeof timeseriesShape>;
export type Status = z.infer<typeof statusShape>;
export type UniquesAnswer = z.infer<typeof uniquesShape>;
export type ExportRow = z.infer<typeof exportRowShape>;
export type ExportUniquesRow = z.infer<typeof exportUniquesRowShape>;
export type Ready = z.infer<typeof readyShape>;
export type ReconcileRow = z.infer<typeof reconcileRowShape>;
export type ReconcileAnswer = z.infer<typeof reconcileShape>;
export type InFlight = ReconcileAnswer['in_flight'];

/** Every error (CONTRACT.md, "HTTP"); the analytics API answers invalid_query and store_unavailable. */
export const errorShape = z.object({
  error: z.string().describe('invalid_query, store_unavailable, not_found, rate_limited, …'),
  message: z.string().describe('A sentence for a person: the cause and the fix.'),
  details: z
    .array(z.record(z.string(), z.unknown()))
    .describe('For invalid_query: the bad parameter and its rule.'),
});
