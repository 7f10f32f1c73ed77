// The store side of reconciliation (README "Reconcile"; RELIABILITY.md), SQLite and PostgreSQL
// side by side. Two writers, each exactly-once by its own key:
// - the consumer's commit (commit.ts) records INSIDE its transaction: per (cliente, minute of
//   event time) the events it counted (from reporting publishers, or not) and the duplicates it
//   dropped. A duplicate is an id already known whose delivery carries ANOTHER publish tag
//   (x-warren-pub) than the one it was counted from; one row per (cliente, id, pub) in
//   reconcile_dups, so a duplicate redelivered after its commit is not counted twice, and a copy
//   of the publish that was counted (broker redelivery, or the publisher sending it again) is no
//   duplicate at all;
// - applyReports() adds the publishers' reports (attempted, accepted) in one transaction that
//   first records each report id: a report delivered twice is applied once.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { ParsedEvent } from '../event.js';
import { bytes, num, params, where } from './sql.js';
import { rememberedFrom } from './tables.js';
import type { Driver, Filter, PostgresDriver, SqliteDriver } from './types.js';

/** One publisher report (src/broker/accounting.ts writes them). */
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

/** What the analytics service and retention use, whichever the store. */
export interface Reconcile {
  /** Applies the reports not applied before, in one durable transaction; returns how many were new. */
  applyReports(reports: Report[], at: number): Promise<number>;
  /** The ledger's rows matching the filter (its evento is ignored: the ledger is per client). */
  rows(filter: Filter): Promise<LedgerRow[]>;
  /** Forgets ledger rows, report ids and duplicate marks from before `before` (the dedupe cutoff). */
  prune(before: number): Promise<number>;
  /** The publish tag each known (cliente, id) was counted from (null: untagged); unknown ones are absent. */
  countedPubs(keys: { cliente: string; id: string }[]): Promise<Map<string, string | null>>;
}

/** Inside a SQLite commit's transaction: `fresh` were counted, `known` had known ids (batch order). */
export type SqliteRecorder = (fresh: ParsedEvent[], known: ParsedEvent[], arrival: number) => void;

// The statements, SQLite and PostgreSQL side by side.
const SQL = {
  counted: {
    sqlite:
      'INSERT INTO reconcile_minute (cliente, t, counted, unreported, duplicates) VALUES (?, ?, ?, ?, ?) ' +
      'ON CONFLICT (cliente, t) DO UPDATE SET counted = counted + excluded.counted, ' +
      'unreported = unreported + excluded.unreported, duplicates = duplicates + excluded.duplicates',
    postgres:
      'INSERT INTO reconcile_minute (cliente, t, counted, unreported, duplicates) ' +
      'SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) ' +
      'ON CONFLICT (cliente, t) DO UPDATE SET counted = reconcile_minute.counted + excluded.counted, ' +
      'unreported = reconcile_minute.unreported + excluded.unreported, ' +
      'duplicates = reconcile_minute.duplicates + excluded.duplicates',
  },
  storedPub: {
    sqlite: 'SELECT pub FROM seen_ids WHERE cliente = ? AND id = ?',
    postgres:
      'SELECT s.cliente, s.id, s.pub FROM seen_ids s JOIN unnest($1::text[], $2::text[]) AS u(c, i) ' +
      'ON s.cliente = u.c AND s.id = u.i',
  },
  dup: {
    sqlite: 'INSERT INTO reconcile_dups (cliente, id, pub, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    postgres:
      'INSERT INTO reconcile_dups (cliente, id, pub, at) ' +
      'SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ' +
      'ON CONFLICT DO NOTHING RETURNING cliente, id, pub',
  },
  report: {
    sqlite: 'INSERT INTO reconcile_reports (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING',
    postgres:
      'INSERT INTO reconcile_reports (id, at) SELECT i, $2 FROM unnest($1::text[]) AS u(i) ' +
      'ON CONFLICT DO NOTHING RETURNING id',
  },
  reported: {
    sqlite:
      'INSERT INTO reconcile_minute (cliente, t, attempted, accepted) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (cliente, t) DO UPDATE SET attempted = attempted + excluded.attempted, ' +
      'accepted = accepted + excluded.accepted',
    postgres:
      'INSERT INTO reconcile_minute (cliente, t, attempted, accepted) ' +
      'SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) ' +
      'ON CONFLICT (cliente, t) DO UPDATE SET attempted = reconcile_minute.attempted + excluded.attempted, ' +
      'accepted = reconcile_minute.accepted + excluded.accepted',
  },
  // The ledger stays per minute for the dedupe window; report ids and duplicate marks likewise.
  prune: {
    sqlite: [
      'DELETE FROM reconcile_minute WHERE t < ?',
      'DELETE FROM reconcile_reports WHERE at < ?',
      'DELETE FROM reconcile_dups WHERE at < ?',
    ],
    postgres: [
      'DELETE FROM reconcile_minute WHERE t < $1',
      'DELETE FROM reconcile_reports WHERE at < $1',
      'DELETE FROM reconcile_dups WHERE at < $1',
    ],
  },
};

type Col = 'counted' | 'unreported' | 'duplicates';
type Tally = Map<string, { cliente: string; t: number } & Record<Col, number>>;
type ReportRow = Report['rows'][number];

const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

type TallyRow = Tally extends Map<string, infer R> ? R : never;

function rowOf(tally: Tally, cliente: string, t: number): TallyRow {
  const k = `${cliente}\u0000${t}`;
  let r = tally.get(k);
  if (!r) {
    r = { cliente, t, counted: 0, unreported: 0, duplicates: 0 };
    tally.set(k, r);
  }
  return r;
}

function bump(tally: Tally, e: ParsedEvent, col: Col): void {
  rowOf(tally, e.cliente, Math.floor(e.ms / 60_000) * 60)[col]++;
}

/**
 * The counted events by whether their publisher reports (a tag) or not. A batch holds runs of
 * one client's events of one minute: the row of the previous event is tried first.
 */
function countFresh(fresh: ParsedEvent[]): Tally {
  const tally: Tally = new Map();
  let last: TallyRow | undefined;
  for (const e of fresh) {
    const t = Math.floor(e.ms / 60_000) * 60;
    if (last === undefined || last.t !== t || last.cliente !== e.cliente) last = rowOf(tally, e.cliente, t);
    last[e.pub === undefined ? 'unreported' : 'counted']++;
  }
  return tally;
}

/** Rows in (cliente, t) order: concurrent PostgreSQL transactions lock them in one order. */
function sorted<T extends { cliente: string; t: number }>(rows: Iterable<T>): T[] {
  return [...rows].sort((a, b) => byBytes(a.cliente, b.cliente) || a.t - b.t);
}

/** The reports' rows summed per (cliente, minute). */
function reportTally(reports: Report[]): ReportRow[] {
  const out = new Map<string, ReportRow>();
  for (const rep of reports)
    for (const r of rep.rows) {
      const k = `${r.cliente}\u0000${r.t}`;
      const o = out.get(k);
      if (o) {
        o.attempted += r.attempted;
        o.accepted += r.accepted;
      } else out.set(k, { ...r });
    }
  return sorted(out.values());
}

/** The ledger's rows: the filter's range and client (the ledger has no evento). */
function ledgerRows(d: Driver, filter: Filter): Promise<LedgerRow[]> {
  const p = params(d.kind);
  const w = where({ from: filter.from, to: filter.to, cliente: filter.cliente }, p);
  const cols = ['t', 'attempted', 'accepted', 'counted', 'unreported', 'duplicates']
    .map((c) => `${num(d.kind, c)} AS ${c}`)
    .join(', ');
  return d.all<LedgerRow>(
    `SELECT cliente, ${cols} FROM reconcile_minute ${w} ORDER BY t, ${bytes(d.kind, 'cliente')}`,
    p,
  );
}

/** The commit's recorder; call it once the schema is migrated (it prepares statements). */
export function sqliteRecorder(d: SqliteDriver): SqliteRecorder {
  const db = d.db;
  const upsert = db.prepare(SQL.counted.sqlite);
  const storedPub = db.prepare(SQL.storedPub.sqlite).pluck();
  const insertDup = db.prepare(SQL.dup.sqlite);
  return (fresh, known, arrival) => {
    const tally = countFresh(fresh);
    for (const e of known) {
      if (e.pub === undefined || e.id === undefined) continue;
      if (storedPub.get(e.cliente, e.id) === e.pub) continue; // a copy of the counted publish
      if (insertDup.run(e.cliente, e.id, e.pub, rememberedFrom(e.ms, arrival)).changes > 0)
        bump(tally, e, 'duplicates');
    }
    for (const r of tally.values()) upsert.run(r.cliente, r.t, r.counted, r.unreported, r.duplicates);
  };
}

/** Inside the commit's transaction on `c`: as sqliteRecorder's. */
export async function postgresRecord(
  c: pg.PoolClient,
  fresh: ParsedEvent[],
  known: ParsedEvent[],
  arrival: number,
): Promise<void> {
  const tally = countFresh(fresh);
  const cand = new Map<string, ParsedEvent>();
  for (const e of known)
    if (e.pub !== undefined && e.id !== undefined) cand.set(`${e.cliente}\u0000${e.id}\u0000${e.pub}`, e);
  if (cand.size > 0) {
    const list = [...cand.values()];
    const stored = await c.query(SQL.storedPub.postgres, [list.map((e) => e.cliente), list.map((e) => e.id)]);
    const counted = new Set(
      (stored.rows as { cliente: string; id: string; pub: string | null }[]).map(
        (r) => `${r.cliente}\u0000${r.id}\u0000${r.pub}`,
      ),
    );
    const dups = [...cand]
      .filter(([k]) => !counted.has(k))
      .sort((a, b) => byBytes(a[0], b[0]))
      .map(([, e]) => e);
    if (dups.length > 0) {
      const ins = await c.query(SQL.dup.postgres, [
        dups.map((e) => e.cliente),
        dups.map((e) => e.id),
        dups.map((e) => e.pub),
        dups.map((e) => rememberedFrom(e.ms, arrival)),
      ]);
      for (const r of ins.rows as { cliente: string; id: string; pub: string }[]) {
        const e = cand.get(`${r.cliente}\u0000${r.id}\u0000${r.pub}`);
        if (e) bump(tally, e, 'duplicates');
      }
    }
  }
  if (tally.size === 0) return;
  const rows = sorted(tally.values());
  await c.query(SQL.counted.postgres, [
    rows.map((r) => r.cliente),
    rows.map((r) => r.t),
    rows.map((r) => r.counted),
    rows.map((r) => r.unreported),
    rows.map((r) => r.duplicates),
  ]);
}

function sqliteReconcile(d: SqliteDriver): Reconcile {
  // Prepared on first use: the store may be built before its migrations ran.
  let s:
    | {
        report: Database.Statement;
        reported: Database.Statement;
        storedPub: Database.Statement;
        prune: Database.Statement[];
      }
    | undefined;
  const stmts = () => {
    s ??= {
      report: d.db.prepare(SQL.report.sqlite),
      reported: d.db.prepare(SQL.reported.sqlite),
      storedPub: d.db.prepare(SQL.storedPub.sqlite).pluck(),
      prune: SQL.prune.sqlite.map((q) => d.db.prepare(q)),
    };
    return s;
  };
  return {
    async applyReports(reports, at) {
      const st = stmts();
      return d.immediate(() => {
        const fresh = reports.filter((r) => st.report.run(r.id, at).changes > 0);
        for (const r of reportTally(fresh)) st.reported.run(r.cliente, r.t, r.attempted, r.accepted);
        return fresh.length;
      })();
    },
    rows: (filter) => ledgerRows(d, filter),
    async prune(before) {
      const st = stmts();
      return d.immediate(() => st.prune.reduce((n, q) => n + q.run(before).changes, 0))();
    },
    async countedPubs(keys) {
      const st = stmts();
      const out = new Map<string, string | null>();
      for (const k of keys) {
        const pub = st.storedPub.get(k.cliente, k.id) as string | null | undefined;
        if (pub !== undefined) out.set(`${k.cliente}\u0000${k.id}`, pub);
      }
      return out;
    },
  };
}

function postgresReconcile(d: PostgresDriver): Reconcile {
  return {
    applyReports: (reports, at) =>
      d.transaction(async (c) => {
        const ids = [...new Set(reports.map((r) => r.id))].sort(byBytes);
        const ins = await c.query(SQL.report.postgres, [ids, at]);
        const applied = new Set((ins.rows as { id: string }[]).map((r) => r.id));
        // A report given twice in one call is applied once, like one delivered twice.
        const seen = new Set<string>();
        const fresh = reports.filter((r) => applied.has(r.id) && !seen.has(r.id) && seen.add(r.id));
        const rows = reportTally(fresh);
        if (rows.length > 0)
          await c.query(SQL.reported.postgres, [
            rows.map((r) => r.cliente),
            rows.map((r) => r.t),
            rows.map((r) => r.attempted),
            rows.map((r) => r.accepted),
          ]);
        return fresh.length;
      }),
    rows: (filter) => ledgerRows(d, filter),
    prune: (before) =>
      d.transaction(async (c) => {
        let n = 0;
        for (const q of SQL.prune.postgres) n += (await c.query(q, [before])).rowCount ?? 0;
        return n;
      }),
    async countedPubs(keys) {
      const out = new Map<string, string | null>();
      if (keys.length === 0) return out;
      const p = params('postgres');
      p.add(keys.map((k) => k.cliente));
      p.add(keys.map((k) => k.id));
      const rows = await d.all<{ cliente: string; id: string; pub: string | null }>(
        SQL.storedPub.postgres,
        p,
      );
      for (const r of rows) out.set(`${r.cliente}\u0000${r.id}`, r.pub);
      return out;
    },
  };
}

/** The ledger over a driver (store.ts keeps one per store; reconcileOf gives it out). */
export function ledger(d: Driver): Reconcile {
  return d.kind === 'sqlite' ? sqliteReconcile(d) : postgresReconcile(d);
}
