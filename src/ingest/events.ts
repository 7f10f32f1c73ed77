// Turns a request into events: fills what the client may leave out (cliente, timestamp, id), then
// checks EVERY event with the one event contract (event.ts) before anything is published.

import { WarrenError } from '../errors.js';
import { type Event, type Problem, parse } from '../event.js';
import { newId } from '../id.js';

export const MAX_EVENTS = 1000;
/** `<key>:<index>` must still be a valid id (at most 128 characters). */
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,100}$/;
const MAX_DETAILS = 100;
/** Keys that mean nothing to an event and only ever appear in prototype-pollution attempts. */
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

export interface Defaults {
  /** From the API key (keyed mode): the only client this request may publish for. */
  keyCliente: string | undefined;
  /** From X-Client-Name. */
  headerCliente: string | undefined;
  idempotencyKey: string | undefined;
  now: string;
}

function invalid(message: string, details: unknown[] = []): WarrenError {
  return new WarrenError('invalid_event', message, { status: 400, details });
}

export function checkIdempotencyKey(key: string | undefined): void {
  if (key !== undefined && !IDEMPOTENCY_KEY_RE.test(key)) {
    throw invalid('The Idempotency-Key header must be 1-100 printable ASCII characters without spaces.', [
      { field: 'Idempotency-Key', rule: '1-100 printable ASCII characters without spaces' },
    ]);
  }
}

/** The client an event is for when its body names none: the key's, else the header's. */
function defaultCliente(d: Defaults): string | undefined {
  return d.keyCliente ?? d.headerCliente;
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function fill(item: unknown, index: number, d: Defaults): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
  const obj = item as Record<string, unknown>;
  return {
    id: own(obj, 'id') ?? (d.idempotencyKey === undefined ? newId() : `${d.idempotencyKey}:${index}`),
    cliente: own(obj, 'cliente') ?? defaultCliente(d),
    evento: own(obj, 'evento'),
    timestamp: own(obj, 'timestamp') ?? d.now,
    usuario: own(obj, 'usuario'),
  };
}

const NONE: readonly Problem[] = [];

function forbiddenKeys(item: unknown): readonly Problem[] {
  if (typeof item !== 'object' || item === null) return NONE;
  // The usual case, with no array made per event.
  if (!FORBIDDEN_KEYS.some((k) => Object.hasOwn(item, k))) return NONE;
  return FORBIDDEN_KEYS.filter((k) => Object.hasOwn(item, k)).map((k) => ({
    field: k,
    rule: 'reserved name: not allowed in an event',
  }));
}

/** The events of a POST /events body, filled and checked; throws 400 invalid_event naming every problem. */
export function eventsFromBody(body: unknown, d: Defaults): Event[] {
  if (body === undefined) {
    throw new WarrenError('invalid_json', 'The body is empty; send one event object or an array of events.', {
      status: 400,
    });
  }
  const isArray = Array.isArray(body);
  const items: unknown[] = isArray ? body : [body];
  if (items.length === 0) throw invalid('The array is empty; send 1 to 1,000 events.');
  if (items.length > MAX_EVENTS) {
    throw invalid(`The array has ${items.length} events; send at most 1,000 per request.`, [
      { field: '(body)', rule: `at most ${MAX_EVENTS} events`, value: String(items.length) },
    ]);
  }
  const events: Event[] = [];
  const problems: Problem[] = [];
  let bad = 0;
  items.forEach((item, i) => {
    const found = forbiddenKeys(item);
    const r = parse(fill(item, i, d));
    if (r.ok && found.length === 0) {
      // Kept with its parsed `ms`: the publisher accounts by it instead of parsing the time again
      // (serialize() writes the contract's fields only).
      events.push(r.event);
      return;
    }
    bad++;
    for (const p of [...found, ...(r.ok ? [] : r.problems)]) {
      if (problems.length < MAX_DETAILS) problems.push(isArray ? { index: i, ...p } : p);
    }
  });
  if (bad > 0) {
    const what = isArray ? `${bad} of ${items.length} events are invalid` : 'The event is invalid';
    throw invalid(`${what}; nothing was published. See details for each index and field.`, problems);
  }
  return events;
}

/** The seed's POST /send: one event of the header's client (default cliente_x), evento `send`. */
export function eventFromSend(body: unknown, d: Defaults): Event {
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    throw invalid('The body of /send is a JSON object such as {"message": "mensaje de prueba"}.', [
      { field: '(body)', rule: 'must be a JSON object' },
    ]);
  }
  const cliente = defaultCliente(d) ?? 'cliente_x';
  const id = d.idempotencyKey === undefined ? newId() : `${d.idempotencyKey}:0`;
  // The seed's body carries no user; a caller may add one ({"message": …, "usuario": "u1"}).
  const usuario = body === undefined ? undefined : own(body as Record<string, unknown>, 'usuario');
  const r = parse({ id, cliente, evento: 'send', timestamp: d.now, usuario });
  if (!r.ok) {
    throw invalid('The X-Client-Name header is not a valid client name.', [
      ...r.problems.map((p) => ({ ...p, field: p.field === 'cliente' ? 'X-Client-Name' : p.field })),
    ]);
  }
  return r.event;
}

/** Keyed mode: every event must be for the key's client (and X-Client-Name cannot say otherwise). */
export function checkOwnership(events: Event[], d: Defaults): void {
  if (d.keyCliente === undefined) return;
  const details: unknown[] = [];
  if (d.headerCliente !== undefined && d.headerCliente !== d.keyCliente) {
    details.push({ field: 'X-Client-Name', rule: `must be ${d.keyCliente} (the API key's client)` });
  }
  events.forEach((e, index) => {
    if (e.cliente !== d.keyCliente && details.length < MAX_DETAILS) {
      details.push({
        index,
        field: 'cliente',
        rule: `must be ${d.keyCliente} (the API key's client)`,
        value: e.cliente,
      });
    }
  });
  if (details.length > 0) {
    throw new WarrenError('forbidden', `This API key may only publish events of ${d.keyCliente}.`, {
      status: 403,
      details,
    });
  }
}

/** How many events each client has in the request (for the rate limiter). */
export function countByClient(events: Event[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.cliente, (m.get(e.cliente) ?? 0) + 1);
  return m;
}
