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

/** GET /readyz. */
export const readyShape = z.strictObject({
  status: z.enum(['ready', 'unavailable']),
  broker: z.boolean(),
  store: z.boolean(),
});

export type Bucket = z.infer<typeof bucketShape>;
export type Reporte = z.infer<typeof reporteShape>;
export type ReportClient = z.infer<typeof reportClientShape>;
export type Report = z.infer<typeof reportShape>;
export type Point = z.infer<typeof pointShape>;
export type Timeseries = z.infer<typeof timeseriesShape>;
export type Status = z.infer<typeof statusShape>;
export type UniquesAnswer = z.infer<typeof uniquesShape>;
export type ExportRow = z.infer<typeof exportRowShape>;
export type Ready = z.infer<typeof readyShape>;

/** Every error (CONTRACT.md, "HTTP"); the analytics API answers invalid_query and store_unavailable. */
export const errorShape = z.object({
  error: z.string().describe('invalid_query, store_unavailable, not_found, rate_limited, …'),
  message: z.string().describe('A sentence for a person: the cause and the fix.'),
  details: z
    .array(z.record(z.string(), z.unknown()))
    .describe('For invalid_query: the bad parameter and its rule.'),
});
