// The event contract (CONTRACT.md, "Event"), written once: the ingest validates with it before
// publishing, the consumer on receipt, the tests with the same code. parse() never throws.

export interface Event {
  /** Deduplication key; absent only for events from publishers outside Warren. */
  id?: string;
  cliente: string;
  evento: string;
  /** As received (RFC 3339 with a zone). */
  timestamp: string;
  /** The actor (user, device, session) for unique counts; events without one add nothing to uniques. */
  usuario?: string;
}

/** An event with its event time resolved to epoch milliseconds (UTC). */
export interface ParsedEvent extends Event {
  ms: number;
  /**
   * The publish it came from (the x-warren-pub header of a publisher that reports to reconcile),
   * when the delivery carries a well-formed one: never part of the body, never serialized.
   */
  pub?: string;
}

export interface Problem {
  /** Index in a batch, when the input was an array. */
  index?: number;
  field: string;
  rule: string;
  value?: string;
}

export type ParseResult = { ok: true; event: ParsedEvent } | { ok: false; problems: Problem[] };

export const CLIENTE_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const EVENTO_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
export const ID_RE = /^[\x20-\x7e]{1,128}$/;
/**
 * The header carrying reconcile's publish tag (src/broker/accounting.ts writes it, the consumer
 * reads it): part of the message contract, like the body, so the kernel's topic.ts can read it.
 */
export const PUB_HEADER = 'x-warren-pub';
/** What a publish tag may look like: anything else is ignored (headers are publisher input). */
export const PUB_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
// "Printable characters" in any script (a user id may be an e-mail address or a name): no control
// characters, lone surrogates, unassigned code points or line/paragraph separators, which would
// break a log line or a CSV cell. Counted in code points (the `u` flag), not UTF-16 units.
export const USUARIO_RE = /^[^\p{Cc}\p{Cs}\p{Cn}\p{Zl}\p{Zp}]{1,128}$/u;
// RFC 3339 §5.6 date-time; the separator may be "T", "t" or (per its note) a space.
const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export const RULES = {
  cliente: '1-64 characters of A-Z a-z 0-9 _ . -',
  evento: '1-64 characters of A-Z a-z 0-9 _ . : -',
  timestamp: 'an RFC 3339 date-time with a zone (Z or +hh:mm), e.g. 2025-04-13T12:00:00Z',
  id: '1-128 printable ASCII characters',
  usuario: '1-128 printable characters (no control characters)',
} as const;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function preview(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(typeof value);
  }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** The number written by n ASCII digits from i, or -1 when one of them is not a digit. */
function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The form every Warren publisher writes (Date.toISOString: `2025-04-13T12:00:00.000Z`, years
 * 1000-9999, no leap second), read without the regular expression; undefined for any other
 * text, which the general reading below then takes (the same result for this form: event.test.ts).
 */
function parseIsoUtc(v: string): number | undefined {
  if (v.length !== 24 || v.charCodeAt(23) !== 90 /* Z */) return undefined;
  // - - T : : .
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84) return undefined;
  if (v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46) return undefined;
  const y = digitsAt(v, 0, 4);
  const mo = digitsAt(v, 5, 2);
  const d = digitsAt(v, 8, 2);
  const h = digitsAt(v, 11, 2);
  const mi = digitsAt(v, 14, 2);
  const sec = digitsAt(v, 17, 2);
  const milli = digitsAt(v, 20, 3);
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59) return undefined;
  if (sec < 0 || sec > 59 || milli < 0) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, sec, milli);
}

/** Epoch milliseconds of an RFC 3339 date-time with a zone, or undefined when it is not one. */
export function parseTimestamp(value: string): number | undefined {
  const fast = parseIsoUtc(value);
  if (fast !== undefined) return fast;
  const m = TIMESTAMP_RE.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const leap = (y! % 4 === 0 && y! % 100 !== 0) || y! % 400 === 0;
  if (mo! < 1 || mo! > 12) return undefined;
  const maxDay = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo! - 1]!;
  if (d! < 1 || d! > maxDay || h! > 23 || mi! > 59 || s! > 60) return undefined;
  let offsetMin = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  // A leap second (:60) is counted in the second before it, so it stays in its own minute.
  const sec = Math.min(s!, 59);
  const milli = s === 60 ? 999 : frac;
  let ms: number;
  if (y! >= 100) ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, sec, milli);
  else {
    // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
    const date = new Date(0);
    date.setUTCFullYear(y!, mo! - 1, d!);
    date.setUTCHours(h!, mi!, sec, milli);
    ms = date.getTime();
  }
  return ms - offsetMin * 60_000;
}

function checkString(
  obj: Record<string, unknown>,
  field: keyof typeof RULES,
  re: RegExp,
  problems: Problem[],
) {
  const has = Object.hasOwn(obj, field);
  const v = has ? obj[field] : undefined;
  if (!has || v === undefined || v === null) {
    if (field !== 'id' && field !== 'usuario') problems.push({ field, rule: `required: ${RULES[field]}` });
    return;
  }
  if (typeof v !== 'string')
    problems.push({ field, rule: `must be a string: ${RULES[field]}`, value: preview(v) });
  else if (!re.test(v)) problems.push({ field, rule: RULES[field], value: preview(v) });
}

/** Checks one decoded JSON value against the event contract. Never throws. */
export function parse(input: unknown): ParseResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      problems: [{ field: '(event)', rule: 'must be a JSON object', value: preview(input) }],
    };
  }
  const obj = input as Record<string, unknown>;
  const problems: Problem[] = [];
  checkString(obj, 'cliente', CLIENTE_RE, problems);
  checkString(obj, 'evento', EVENTO_RE, problems);
  checkString(obj, 'id', ID_RE, problems);
  checkString(obj, 'usuario', USUARIO_RE, problems);
  let ms: number | undefined;
  if (!Object.hasOwn(obj, 'timestamp') || obj.timestamp === undefined || obj.timestamp === null) {
    problems.push({ field: 'timestamp', rule: `required: ${RULES.timestamp}` });
  } else if (typeof obj.timestamp !== 'string') {
    problems.push({
      field: 'timestamp',
      rule: `must be a string: ${RULES.timestamp}`,
      value: preview(obj.timestamp),
    });
  } else {
    ms = parseTimestamp(obj.timestamp);
    if (ms === undefined)
      problems.push({ field: 'timestamp', rule: RULES.timestamp, value: preview(obj.timestamp) });
  }
  if (problems.length > 0 || ms === undefined) return { ok: false, problems };
  const event: ParsedEvent = {
    cliente: obj.cliente as string,
    evento: obj.evento as string,
    timestamp: obj.timestamp as string,
    ms,
  };
  if (typeof obj.id === 'string') event.id = obj.id;
  if (typeof obj.usuario === 'string') event.usuario = obj.usuario;
  return { ok: true, event };
}

/** Decodes a message body (UTF-8 JSON) and checks it. Never throws. */
export function parseBody(body: Buffer | string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return {
      ok: false,
      problems: [{ field: '(body)', rule: 'must be UTF-8 JSON', value: preview(String(body)) }],
    };
  }
  return parse(value);
}

/** One line naming what is wrong, for dead-letter listings and logs. */
export function reason(problems: Problem[]): string {
  return problems
    .map((p) => `${p.index === undefined ? '' : `[${p.index}].`}${p.field}: ${p.rule}`)
    .join('; ');
}

/** The body a Warren publisher sends: only the contract's fields, in a fixed order. */
export function serialize(event: Event): Buffer {
  const { id, cliente, evento, timestamp, usuario } = event;
  const body: Event = id === undefined ? { cliente, evento, timestamp } : { id, cliente, evento, timestamp };
  if (usuario !== undefined) body.usuario = usuario;
  return Buffer.from(JSON.stringify(body));
}

/** JSON Schema of one event as a client sends it (id and timestamp optional over HTTP). */
export const eventJsonSchema = {
  type: 'object',
  required: ['evento'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x20-\\x7e]+$', description: RULES.id },
    cliente: { type: 'string', pattern: CLIENTE_RE.source, description: RULES.cliente },
    evento: { type: 'string', pattern: EVENTO_RE.source, description: RULES.evento },
    timestamp: { type: 'string', format: 'date-time', description: RULES.timestamp },
    usuario: { type: 'string', minLength: 1, maxLength: 128, description: RULES.usuario },
  },
  additionalProperties: true,
} as const;
