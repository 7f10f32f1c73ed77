// Reconciliation, the analytics side (README "Reconcile"; RELIABILITY.md): the control queue's
// reports applied to the store exactly once, the dead letters counted by what the DLQ holds, and
// the equation per (cliente, minute of event time):
//
//   accepted ≤ counted + duplicates + dead_valid ≤ accepted + uncertain
//
// accepted: events reporting publishers got confirmed; uncertain: attempted but never confirmed
// (503, timeout, a reporter killed mid-publish: the broker may or may not hold them); counted:
// events counted from reporting publishers; duplicates: their copies under an already counted id
// (one per publish, not per delivery); dead_valid: their valid events in the DLQ (delivery limit,
// or refused by the store). Events from publishers that do not report (MQTT, STOMP, AMQP clients
// outside Warren) are `unreported`, outside the equation; invalid dead letters are `dead_invalid`.
import type { Channel, ConsumeMessage } from 'amqplib';
import { release, scan } from '../audit/index.js';
import { ACK, type Outcome, parseReport } from '../broker/index.js';
import { CLIENTE_RE, parseTimestamp } from '../event.js';
import type { Logger } from '../log.js';
import { type Filter, type LedgerRow, type Report, reconcileOf, type Store } from '../store/index.js';
import { MAX_BODY_BYTES, readDelivery } from '../topic.js';
import { iso } from './query.js';
import type { InFlight, ReconcileAnswer, ReconcileRow } from './shapes.js';

/** Batch handler of the control queue: valid reports applied in one transaction, once each. */
export function reportHandler(store: () => Store | undefined, log: Logger) {
  return async (batch: ConsumeMessage[]): Promise<Outcome[]> => {
    const s = store();
    const ledger = s && reconcileOf(s);
    if (!ledger) throw new Error('the store is not ready yet');
    const reports: Report[] = [];
    const outcomes: Outcome[] = batch.map((msg) => {
      const r = parseReport(msg.content);
      if (r) {
        reports.push(r);
        return ACK;
      }
      // The control queue has no dead-letter exchange: a message that is no report is dropped.
      log.warn({ bytes: msg.content.length }, 'dropped a control-queue message that is not a Warren report');
      return { deadLetter: 'not a Warren report' };
    });
    if (reports.length > 0) await ledger.applyReports(reports, Math.floor(Date.now() / 1000));
    return outcomes;
  };
}

interface DeadRow {
  cliente: string | null;
  t: number | null;
  dead_valid: number;
  dead_invalid: number;
  unreported: number;
}

export interface DeadLetterLedger {
  rows: Map<string, DeadRow>;
  /** Messages beyond the scan's limit, not looked at. */
  unscanned: number;
  /**
   * Valid dead letters of reporting publishers, not yet in `rows`: copiesCounted() decides which
   * are dead_valid and which are copies of a publish already counted.
   */
  tagged: { cliente: string; id: string; pub: string; t: number }[];
}

/**
 * Moves the tagged dead letters into dead_valid, except copies of a publish already counted (same
 * id and tag in the store): a delivery committed, then not acked (a kill), and dead-lettered at
 * the delivery limit on its redelivery. Its event is counted; replaying it changes nothing.
 */
export async function copiesCounted(
  dead: DeadLetterLedger,
  counted: (keys: { cliente: string; id: string }[]) => Promise<Map<string, string | null>>,
): Promise<{ rows: Map<string, DeadRow>; unscanned: number; copies: number }> {
  const rows = new Map([...dead.rows].map(([k, r]) => [k, { ...r }]));
  const known = await counted(dead.tagged);
  let copies = 0;
  for (const d of dead.tagged) {
    if (known.get(`${d.cliente}\u0000${d.id}`) === d.pub) {
      copies++;
      continue;
    }
    const k = keyOf(d.cliente, d.t);
    let r = rows.get(k);
    if (!r) {
      r = { cliente: d.cliente, t: d.t, dead_valid: 0, dead_invalid: 0, unreported: 0 };
      rows.set(k, r);
    }
    r.dead_valid++;
  }
  return { rows, unscanned: dead.unscanned, copies };
}

const keyOf = (cliente: string | null, t: number | null) => `${cliente ?? ''}\u0000${t ?? ''}`;

function bodyFields(content: Buffer): { cliente?: unknown; timestamp?: unknown } {
  if (content.length > MAX_BODY_BYTES) return {};
  try {
    const v: unknown = JSON.parse(content.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Dead letters per (cliente, minute), read with the DLQ scan that `dlq list` uses (held, then handed back). */
export async function scanDeadLetters(
  conn: { createChannel(): Promise<Channel> },
  dlq: string,
  prefix: readonly string[],
  limit: number,
): Promise<DeadLetterLedger> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    const held = await scan(ch, dlq, limit, prefix);
    const unscanned = held.length < limit ? 0 : (await ch.checkQueue(dlq)).messageCount;
    release(ch, held);
    const rows = new Map<string, DeadRow>();
    const tagged: DeadLetterLedger['tagged'] = [];
    const add = (
      cliente: string | null,
      t: number | null,
      col: 'dead_valid' | 'dead_invalid' | 'unreported',
    ) => {
      const k = keyOf(cliente, t);
      let r = rows.get(k);
      if (!r) {
        r = { cliente, t, dead_valid: 0, dead_invalid: 0, unreported: 0 };
        rows.set(k, r);
      }
      r[col]++;
    };
    for (const h of held) {
      const r = readDelivery(h.msg, prefix);
      if (r.ok) {
        const t = Math.floor(r.event.ms / 60_000) * 60;
        const { cliente, id, pub } = r.event;
        if (pub !== undefined && id !== undefined) tagged.push({ cliente, id, pub, t });
        else add(cliente, t, pub === undefined ? 'unreported' : 'dead_valid');
        continue;
      }
      const b = bodyFields(h.msg.content);
      const cliente = typeof b.cliente === 'string' && CLIENTE_RE.test(b.cliente) ? b.cliente : null;
      const ms = typeof b.timestamp === 'string' ? parseTimestamp(b.timestamp) : undefined;
      add(cliente, ms === undefined ? null : Math.floor(ms / 60_000) * 60, 'dead_invalid');
    }
    return { rows, unscanned, tagged };
  } finally {
    await ch.close().catch(() => undefined);
  }
}

export type { InFlight, ReconcileAnswer, ReconcileRow } from './shapes.js';

export const EQUATION = 'accepted <= counted + duplicates + dead_valid <= accepted + uncertain';
const NOT_COVERED =
  'Events from publishers that do not report (MQTT, STOMP, the SDK and other AMQP clients) are listed as ' +
  'unreported and are outside the equation; so are invalid dead letters (dead_invalid), which no reporting ' +
  'publisher sends. Rows older than the dedupe window (DEDUPE_WINDOW_DAYS) are forgotten with the ids.';

function inRange(filter: Filter, cliente: string | null, t: number | null): boolean {
  if (filter.cliente !== undefined && cliente !== filter.cliente) return false;
  if (filter.from !== undefined && (t === null || t < filter.from)) return false;
  if (filter.to !== undefined && (t === null || t >= filter.to)) return false;
  return true;
}

/** The answer of GET /api/v1/reconcile from the store's ledger rows and the DLQ's. */
/** A row's or the totals' figures, all zero. */
const noFigures = () => ({
  accepted: 0,
  uncertain: 0,
  counted: 0,
  duplicates: 0,
  dead_valid: 0,
  dead_invalid: 0,
  unreported: 0,
});

type Gathered = Omit<ReconcileRow, 'balanced'> & { tn: number | null };

/** The ledger's rows and the dead letters in range, summed per (cliente, minute). */
function gather(
  filter: Filter,
  ledger: LedgerRow[],
  dead: { rows: Map<string, DeadRow> },
): Map<string, Gathered> {
  const byKey = new Map<string, Gathered>();
  const row = (cliente: string | null, t: number | null) => {
    const k = keyOf(cliente, t);
    let r = byKey.get(k);
    if (!r) {
      r = {
        cliente,
        t: t === null ? null : iso(t),
        tn: t,
        ...noFigures(),
      };
      byKey.set(k, r);
    }
    return r;
  };
  for (const l of ledger) {
    const r = row(l.cliente, Number(l.t));
    r.accepted += Number(l.accepted);
    r.uncertain += Number(l.attempted) - Number(l.accepted);
    r.counted += Number(l.counted);
    r.unreported += Number(l.unreported);
    r.duplicates += Number(l.duplicates);
  }
  for (const d of dead.rows.values()) {
    if (!inRange(filter, d.cliente, d.t)) continue;
    const r = row(d.cliente, d.t);
    r.dead_valid += d.dead_valid;
    r.dead_invalid += d.dead_invalid;
    r.unreported += d.unreported;
  }
  return byKey;
}

export function reconcile(
  filter: Filter,
  ledger: LedgerRow[],
  dead: { rows: Map<string, DeadRow>; unscanned: number; copies?: number },
  inFlight: InFlight,
): ReconcileAnswer {
  const byKey = gather(filter, ledger, dead);
  const totals = noFigures();
  let short = 0;
  let over = 0;
  const rows: ReconcileRow[] = [...byKey.values()]
    .sort(
      (a, b) => (a.tn ?? -Infinity) - (b.tn ?? -Infinity) || ((a.cliente ?? '') < (b.cliente ?? '') ? -1 : 1),
    )
    .map(({ tn: _, ...r }) => {
      const mid = r.counted + r.duplicates + r.dead_valid;
      if (r.accepted > mid) short += r.accepted - mid;
      if (mid > r.accepted + r.uncertain) over += mid - r.accepted - r.uncertain;
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r[k];
      return { ...r, balanced: r.accepted <= mid && mid <= r.accepted + r.uncertain };
    });
  const balanced = short === 0 && over === 0 && dead.unscanned === 0;
  // Still moving: events not yet counted explain a shortfall, reports not yet applied an excess.
  const explained =
    dead.unscanned === 0 &&
    (short === 0 || short <= (inFlight.events ?? 0)) &&
    (over === 0 || (inFlight.reports ?? 0) > 0);
  return {
    from: iso(filter.from),
    to: iso(filter.to),
    cliente: filter.cliente ?? null,
    equation: EQUATION,
    status: balanced ? 'balanced' : explained ? 'in_flight' : 'unbalanced',
    balanced,
    in_flight: inFlight,
    dead_letters_unscanned: dead.unscanned,
    dead_letters_already_counted: dead.copies ?? 0,
    totals,
    rows,
    not_covered: NOT_COVERED,
  };
}
