// One audit line per message: a small envelope, so a body that is not JSON (or not UTF-8) is kept
// exactly and a message_id that stands in for a missing body id is not lost:
//   {"at":"2025-04-13T12:00:00.123Z","message_id":"…","body":{…the event as published…}}
//   {"at":"…","raw":"<base64>"}   when the body is not UTF-8 JSON
// `at` is when the audit consumer received it (arrival time; event time is in the body).
import type { ConsumeMessage } from 'amqplib';
import { type Event, ID_RE, parse } from '../event.js';

export interface AuditRecord {
  at: string;
  message_id?: string;
  body?: unknown;
  raw?: string;
}

function jsonBody(content: Buffer): { ok: true; value: unknown } | { ok: false } {
  const text = content.toString('utf8');
  // Invalid UTF-8 decodes with replacement characters: keep those bodies as raw bytes instead.
  if (Buffer.byteLength(text, 'utf8') !== content.length || !Buffer.from(text, 'utf8').equals(content))
    return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The NDJSON line (with its "\n") for one delivery. */
export function toLine(msg: ConsumeMessage, at: Date): string {
  const rec: AuditRecord = { at: at.toISOString() };
  const id = msg.properties.messageId;
  if (typeof id === 'string' && id) rec.message_id = id;
  const body = jsonBody(msg.content);
  if (body.ok) rec.body = body.value;
  else rec.raw = msg.content.toString('base64');
  return `${JSON.stringify(rec)}\n`;
}

export type Decoded =
  | { kind: 'event'; event: Event }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unreadable'; reason: string };

/** An audit line back to the event it recorded (the AMQP message_id fills a missing id). */
export function fromLine(line: string): Decoded {
  let rec: AuditRecord;
  try {
    rec = JSON.parse(line) as AuditRecord;
  } catch {
    return { kind: 'unreadable', reason: 'not JSON (a line torn by a crash is the last of its file)' };
  }
  if (!rec || typeof rec !== 'object' || typeof rec.at !== 'string')
    return { kind: 'unreadable', reason: 'not an audit record' };
  if (rec.body === undefined) return { kind: 'invalid', reason: 'the body was not UTF-8 JSON' };
  const r = parse(rec.body);
  if (!r.ok) return { kind: 'invalid', reason: 'the body is not a valid event' };
  const { cliente, evento, timestamp, usuario } = r.event;
  // The consumer's rule: a message_id stands in for the id only when it satisfies the id rule.
  const mid = rec.message_id;
  const id = r.event.id ?? (typeof mid === 'string' && ID_RE.test(mid) ? mid : undefined);
  const event: Event = id === undefined ? { cliente, evento, timestamp } : { id, cliente, evento, timestamp };
  // A replayed event keeps its user, so an event counted only by a replay adds its user too.
  if (usuario !== undefined) event.usuario = usuario;
  return { kind: 'event', event };
}
