// The store side of reconciliation (README "Reconcile"; RELIABILITY.md), SQLite and PostgreSQL
// side by side. Two writers, each exactly-once by its own key:
// - the consumer's commit calls record() INSIDE its transaction: per (cliente, minute of event
//   time) the events it counted (from reporting publishers, or not) and the duplicates it dropped.
//   A duplicate is an id already known whose delivery carries ANOTHER publish tag (x-warren-pub)
//   than the one it was counted from; one row per (cliente, id, pub) in reconcile_dups, so a
//   duplicate redelivered after its commit is not counted twice, and a copy of the publish that
//   was counted (broker redelivery, or the publisher sending it again) is no duplicate at all;
// - applyReports() adds the publishers' reports (attempted, accepted) in one transaction that
//   first records each report id: a report delivered twice is applied once.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { ParsedEvent } from '../../event.js';
import { type Filter, rememberedFrom } from './types.js';

/** One publisher report (see src/broker/accounting.ts, which writes them). */
export interface Report {
  /** reporter.seq: unique per report; a copy carries the same id. */
  id: string;
  rows: { cliente: string; t: number; attempted: number; accepted: number }[];
}

/** One (cliente, minute) of the store's ledger. */
export interface LedgerRow {
  cliente: string;
  t: number;
  attempted: number;
  accepted: number;
  counted: number;
  unreported: number;
  duplicates: number;
}

type Col = 'counted' | 'unreported' | 'duplicates';
type Tally = Map<string, { cliente: string; t: number } & Record<Col, number>>;

function bump(tally: Tally, e: ParsedEvent, col: Col): void {
  const t = Math.floor(e.ms / 60_000) * 60;
  const k = `${e.cliente}\u0000${t}`;
  let r = tally.get(k);
  if (!r) {
    r = { cliente: e.cliente, t, counted: 0, unreported: 0, duplicates: 0 };
    tally.set(k, r);
  }
  r[col]++;
}

/** Rows in (cliente, t) order: concurrent PostgreSQL transactions lock them in one order. */
function sorted<T extends { cliente: string; t: number }>(rows: Iterable<T>): T[] {
  return [...rows].sort((a, b) => (a.cliente < b.cliente ? -1 : a.cliente > b.cliente ? 1 : a.t - b.t));
}

function reportTally(
  reports: Report[],
): Map<string, { cliente: string; t: number; attempted: number; accepted: number }> {
  const out = new Map<string, { cliente: string; t: number; attempted: number; accepted: number }>();
  for (const rep of reports)
    for (const r of rep.rows) {
      const k = `${r.cliente}\u0000${r.t}`;
      const o = out.get(k);
      if (o) {
        o.attempted += r.attempted;
        o.accepted += r.accepted;
      } else out.set(k, { ...r });
    }
  return out;
}

function filterSql(filter: Filter, param: (v: unknown) => string): string {
  const parts: string[] = [];
  if (filter.from !== undefined) parts.push(`t >= ${param(filter.from)}`);
  if (filter.to !== undefined) parts.push(`t < ${param(filter.to)}`);
  if (filter.cliente !== undefined) parts.push(`cliente = ${param(filter.cliente)}`);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

const COLUMNS = 'cliente, t, attempted, accepted, counted, unreported, duplicates';

export class SqliteReconcile {
  private readonly upsert: Database.Statement;
  private readonly storedPub: Database.Statement;
  private readonly insertDup: Database.Statement;
  private readonly insertReport: Database.Statement;
  private readonly upsertReport: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.upsert = db.prepare(
      'INSERT INTO reconcile_minute (cliente, t, counted, unreported, duplicates) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (cliente, t) DO UPDATE SET counted = counted + excluded.counted, ' +
        'unreported = unreported + excluded.unreported, duplicates = duplicates + excluded.duplicates',
    );
    this.storedPub = db.prepare('SELECT pub FROM seen_ids WHERE cliente = ? AND id = ?').pluck();
    this.insertDup = db.prepare(
      'INSERT INTO reconcile_dups (cliente, id, pub, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.insertReport = db.prepare(
      'INSERT INTO reconcile_reports (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING',
    );
    this.upsertReport = db.prepare(
      'INSERT INTO reconcile_minute (cliente, t, attempted, accepted) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (cliente, t) DO UPDATE SET attempted = attempted + excluded.attempted, ' +
        'accepted = accepted + excluded.accepted',
    );
  }

  /** Inside the commit's transaction: `fresh` were counted, `known` had known ids (in batch order). */
  record(fresh: ParsedEvent[], known: ParsedEvent[], arrival: number): void {
    const tally: Tally = new Map();
    for (const e of fresh) bump(tally, e, e.pub === undefined ? 'unreported' : 'counted');
    for (const e of known) {
      if (e.pub === undefined || e.id === undefined) continue;
      if (this.storedPub.get(e.cliente, e.id) === e.pub) continue; // a copy of the counted publish
      if (this.insertDup.run(e.cliente, e.id, e.pub, rememberedFrom(e.ms, arrival)).changes > 0)
        bump(tally, e, 'duplicates');
    }
    for (const r of tally.values()) this.upsert.run(r.cliente, r.t, r.counted, r.unreported, r.duplicates);
  }

  /** Applies the reports not applied before, in one durable transaction; returns how many were new. */
  async applyReports(reports: Report[], at: number): Promise<number> {
    const run = this.db.transaction(() => {
      const fresh = reports.filter((r) => this.insertReport.run(r.id, at).changes > 0);
      for (const r of reportTally(fresh).values())
        this.upsertReport.run(r.cliente, r.t, r.attempted, r.accepted);
      return fresh.length;
    });
    return run.immediate();
  }

  /** The publish tag each known (cliente, id) was counted from (null: untagged); unknown ones are absent. */
  async countedPubs(keys: { cliente: string; id: string }[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const k of keys) {
      const pub = this.storedPub.get(k.cliente, k.id) as string | null | undefined;
      if (pub !== undefined) out.set(`${k.cliente}\u0000${k.id}`, pub);
    }
    return out;
  }

  async rows(filter: Filter): Promise<LedgerRow[]> {
    const params: unknown[] = [];
    const w = filterSql(filter, (v) => {
      params.push(v);
      return '?';
    });
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM reconcile_minute ${w} ORDER BY t, cliente`)
      .all(...params) as LedgerRow[];
  }

  /** Forgets ledger rows, report ids and duplicate marks from before `before` (the dedupe cutoff). */
  async prune(before: number): Promise<number> {
    const run = this.db.transaction(() => {
      let n = this.db.prepare('DELETE FROM reconcile_minute WHERE t < ?').run(before).changes;
      n += this.db.prepare('DELETE FROM reconcile_reports WHERE at < ?').run(before).changes;
      n += this.db.prepare('DELETE FROM reconcile_dups WHERE at < ?').run(before).changes;
      return n;
    });
    return run.immediate();
  }
}

export class PostgresReconcile {
  constructor(private readonly pool: pg.Pool) {}

  /** Inside the commit's transaction on `c`: as SqliteReconcile.record. */
  async record(c: pg.PoolClient, fresh: ParsedEvent[], known: ParsedEvent[], arrival: number): Promise<void> {
    const tally: Tally = new Map();
    for (const e of fresh) bump(tally, e, e.pub === undefined ? 'unreported' : 'counted');
    const cand = new Map<string, ParsedEvent>();
    for (const e of known)
      if (e.pub !== undefined && e.id !== undefined) cand.set(`${e.cliente}\u0000${e.id}\u0000${e.pub}`, e);
    if (cand.size > 0) {
      const list = [...cand.values()];
      const stored = await c.query(
        'SELECT s.cliente, s.id, s.pub FROM seen_ids s JOIN unnest($1::text[], $2::text[]) AS u(c, i) ' +
          'ON s.cliente = u.c AND s.id = u.i',
        [list.map((e) => e.cliente), list.map((e) => e.id)],
      );
      const counted = new Set(
        (stored.rows as { cliente: string; id: string; pub: string | null }[]).map(
          (r) => `${r.cliente}\u0000${r.id}\u0000${r.pub}`,
        ),
      );
      const dups = [...cand].filter(([k]) => !counted.has(k)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      if (dups.length > 0) {
        const ev = dups.map(([, e]) => e);
        const ins = await c.query(
          'INSERT INTO reconcile_dups (cliente, id, pub, at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ' +
            'ON CONFLICT DO NOTHING RETURNING cliente, id, pub',
          [
            ev.map((e) => e.cliente),
            ev.map((e) => e.id),
            ev.map((e) => e.pub),
            ev.map((e) => rememberedFrom(e.ms, arrival)),
          ],
        );
        for (const r of ins.rows as { cliente: string; id: string; pub: string }[]) {
          const e = cand.get(`${r.cliente}\u0000${r.id}\u0000${r.pub}`);
          if (e) bump(tally, e, 'duplicates');
        }
      }
    }
    if (tally.size === 0) return;
    const rows = sorted(tally.values());
    await c.query(
      'INSERT INTO reconcile_minute (cliente, t, counted, unreported, duplicates) ' +
        'SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) ' +
        'ON CONFLICT (cliente, t) DO UPDATE SET counted = reconcile_minute.counted + excluded.counted, ' +
        'unreported = reconcile_minute.unreported + excluded.unreported, ' +
        'duplicates = reconcile_minute.duplicates + excluded.duplicates',
      [
        rows.map((r) => r.cliente),
        rows.map((r) => r.t),
        rows.map((r) => r.counted),
        rows.map((r) => r.unreported),
        rows.map((r) => r.duplicates),
      ],
    );
  }

  async applyReports(reports: Report[], at: number): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const ids = [...new Set(reports.map((r) => r.id))].sort();
      const ins = await c.query(
        'INSERT INTO reconcile_reports (id, at) SELECT i, $2 FROM unnest($1::text[]) AS u(i) ON CONFLICT DO NOTHING RETURNING id',
        [ids, at],
      );
      const applied = new Set((ins.rows as { id: string }[]).map((r) => r.id));
      const seen = new Set<string>();
      const fresh = reports.filter((r) => applied.has(r.id) && !seen.has(r.id) && seen.add(r.id));
      const rows = sorted(reportTally(fresh).values());
      if (rows.length > 0)
        await c.query(
          'INSERT INTO reconcile_minute (cliente, t, attempted, accepted) ' +
            'SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) ' +
            'ON CONFLICT (cliente, t) DO UPDATE SET attempted = reconcile_minute.attempted + excluded.attempted, ' +
            'accepted = reconcile_minute.accepted + excluded.accepted',
          [
            rows.map((r) => r.cliente),
            rows.map((r) => r.t),
            rows.map((r) => r.attempted),
            rows.map((r) => r.accepted),
          ],
        );
      await c.query('COMMIT');
      c.release();
      return fresh.length;
    } catch (err) {
      // Destroyed, not rolled back, as in the commit (postgres.ts): the server rolls it back.
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async countedPubs(keys: { cliente: string; id: string }[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (keys.length === 0) return out;
    const r = await this.pool.query(
      'SELECT s.cliente, s.id, s.pub FROM seen_ids s JOIN unnest($1::text[], $2::text[]) AS u(c, i) ' +
        'ON s.cliente = u.c AND s.id = u.i',
      [keys.map((k) => k.cliente), keys.map((k) => k.id)],
    );
    for (const row of r.rows as { cliente: string; id: string; pub: string | null }[])
      out.set(`${row.cliente}\u0000${row.id}`, row.pub);
    return out;
  }

  async rows(filter: Filter): Promise<LedgerRow[]> {
    const params: unknown[] = [];
    const w = filterSql(filter, (v) => {
      params.push(v);
      return `$${params.length}`;
    });
    const cols =
      'cliente, t::float8 AS t, attempted::float8 AS attempted, accepted::float8 AS accepted, ' +
      'counted::float8 AS counted, unreported::float8 AS unreported, duplicates::float8 AS duplicates';
    const r = await this.pool.query(
      `SELECT ${cols} FROM reconcile_minute ${w} ORDER BY t, cliente COLLATE "C"`,
      params,
    );
    return r.rows as LedgerRow[];
  }

  async prune(before: number): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      let n = (await c.query('DELETE FROM reconcile_minute WHERE t < $1', [before])).rowCount ?? 0;
      n += (await c.query('DELETE FROM reconcile_reports WHERE at < $1', [before])).rowCount ?? 0;
      n += (await c.query('DELETE FROM reconcile_dups WHERE at < $1', [before])).rowCount ?? 0;
      await c.query('COMMIT');
      c.release();
      return n;
    } catch (err) {
      c.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
}

/** What the analytics service and retention use, whichever the store. */
export type Reconcile = Pick<SqliteReconcile, 'applyReports' | 'rows' | 'prune' | 'countedPubs'>;
