// The accepted side of reconciliation (README "Reconcile", RELIABILITY.md). A publisher that
// reports tags every event with a publish tag (x-warren-pub: reporter.n, stable across its own
// retries) and keeps, per (cliente, minute of event time), how many events it ATTEMPTED and how
// many the broker CONFIRMED. It sends these counts as report messages (one per tick, never one per
// event) on the control queue, each with an id (reporter.seq) that the store applies once.
// When a report is sent (publisher.ts): the attempts of a tick go out on the same channel BEFORE
// the events they cover (AMQP channels are ordered: the broker has routed the report before any of
// those events, even if the reporter is killed right after), and a publish resolves (202,
// "confirmed") only once a report carrying its confirms is confirmed too.
import { randomBytes } from 'node:crypto';
import { CLIENTE_RE } from '../event.js';

// The header and its rule are the message contract's (event.ts); re-exported for the publisher.
export { PUB_HEADER, PUB_RE } from '../event.js';

const REPORTER_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Rows one report may carry; a tick with more (clients × minutes) sends several reports. */
export const MAX_REPORT_ROWS = 5000;

export interface ReportRow {
  cliente: string;
  /** Start of the minute of event time, epoch seconds. */
  t: number;
  attempted: number;
  accepted: number;
}

export interface ReportBody {
  v: 1;
  reporter: string;
  seq: number;
  rows: ReportRow[];
}

export class Accounting {
  /** 64 random bits per process start: tags and report ids never collide with another run's. */
  readonly reporter = randomBytes(8).toString('hex');
  private n = 0;
  private seq = 0;
  private pending = new Map<string, ReportRow>();
  /** The row counted last: the next event is most often of the same client and minute. */
  private last: ReportRow | undefined;

  /** A new publish tag. */
  tag(): string {
    return `${this.reporter}.${(++this.n).toString(36)}`;
  }

  private row(cliente: string, ms: number): ReportRow {
    const t = Math.floor(ms / 60_000) * 60;
    const last = this.last;
    if (last !== undefined && last.t === t && last.cliente === cliente) return last;
    const k = `${cliente}\u0000${t}`;
    let r = this.pending.get(k);
    if (!r) {
      r = { cliente, t, attempted: 0, accepted: 0 };
      this.pending.set(k, r);
    }
    this.last = r;
    return r;
  }

  attempted(cliente: string, ms: number): void {
    this.row(cliente, ms).attempted++;
  }

  accepted(cliente: string, ms: number): void {
    this.row(cliente, ms).accepted++;
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** The pending counts as report bodies (none when nothing is pending); they are no longer pending. */
  take(): Buffer[] {
    if (this.pending.size === 0) return [];
    const rows = [...this.pending.values()];
    this.pending = new Map();
    this.last = undefined;
    const out: Buffer[] = [];
    for (let i = 0; i < rows.length; i += MAX_REPORT_ROWS) {
      const body: ReportBody = {
        v: 1,
        reporter: this.reporter,
        seq: ++this.seq,
        rows: rows.slice(i, i + MAX_REPORT_ROWS),
      };
      out.push(Buffer.from(JSON.stringify(body)));
    }
    return out;
  }
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A report message read back (analytics); undefined when it is not one (it is then dropped). */
export function parseReport(content: Buffer): { id: string; rows: ReportRow[] } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  const b = v as Partial<ReportBody> | null;
  if (b?.v !== 1 || typeof b.reporter !== 'string' || !REPORTER_RE.test(b.reporter)) return undefined;
  if (!Number.isSafeInteger(b.seq) || (b.seq as number) < 1) return undefined;
  if (!Array.isArray(b.rows) || b.rows.length > MAX_REPORT_ROWS) return undefined;
  const rows: ReportRow[] = [];
  for (const r of b.rows as unknown[]) {
    const x = r as Partial<ReportRow> | null;
    if (!x || typeof x.cliente !== 'string' || !CLIENTE_RE.test(x.cliente)) return undefined;
    if (!Number.isSafeInteger(x.t) || (x.t as number) % 60 !== 0) return undefined;
    if (!count(x.attempted) || !count(x.accepted)) return undefined;
    rows.push({ cliente: x.cliente, t: x.t as number, attempted: x.attempted, accepted: x.accepted });
  }
  return { id: `${b.reporter}.${b.seq}`, rows };
}
