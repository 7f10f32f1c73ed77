// Query-string parsing for the analytics API: RFC 3339 times, names checked against the event
// contract's rules, so nothing unchecked reaches SQL (and SQL is parameterised anyway).
import { WarrenError } from '../errors.js';
import { CLIENTE_RE, EVENTO_RE, parseTimestamp, RULES } from '../event.js';
import type { Bucket, Filter } from '../store/index.js';

type Query = Record<string, unknown>;

function bad(field: string, rule: string, value: unknown): WarrenError {
  return new WarrenError('invalid_query', `The query parameter "${field}" is not valid: ${rule}.`, {
    status: 400,
    details: [{ field, rule, value: String(value).slice(0, 80) }],
  });
}

function str(q: Query, field: string): string | undefined {
  const v = q[field];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw bad(field, 'give it once', v);
  return v;
}

function time(q: Query, field: string): number | undefined {
  const v = str(q, field);
  if (v === undefined) return undefined;
  const ms = parseTimestamp(v);
  if (ms === undefined) throw bad(field, RULES.timestamp, v);
  return Math.floor(ms / 1000);
}

export function parseFilter(q: Query): Filter {
  const filter: Filter = {};
  const from = time(q, 'from');
  const to = time(q, 'to');
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const cliente = str(q, 'cliente');
  if (cliente !== undefined) {
    if (!CLIENTE_RE.test(cliente)) throw bad('cliente', RULES.cliente, cliente);
    filter.cliente = cliente;
  }
  const evento = str(q, 'evento');
  if (evento !== undefined) {
    if (!EVENTO_RE.test(evento)) throw bad('evento', RULES.evento, evento);
    filter.evento = evento;
  }
  return filter;
}

export function parseBucket(q: Query, fallback: Bucket): Bucket {
  const v = str(q, 'bucket') ?? fallback;
  if (v !== 'minute' && v !== 'hour' && v !== 'day') throw bad('bucket', 'one of minute, hour, day', v);
  return v;
}

/** Which export: the counters (default) or the distinct users per client and bucket. */
export function parseExportKind(q: Query): 'counts' | 'uniques' {
  const v = str(q, 'kind') ?? 'counts';
  if (v !== 'counts' && v !== 'uniques') throw bad('kind', 'counts or uniques', v);
  return v;
}

export function iso(seconds: number | undefined): string | null {
  return seconds === undefined ? null : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
