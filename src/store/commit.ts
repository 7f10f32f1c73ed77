// The exactly-once commit (DESIGN.md, "The consumer loop"), written once for both dialects: in
// ONE transaction, remember the batch's new (cliente, id) pairs, skipping known ones; aggregate
// only the events that are new (or carry no id) by (minute, cliente, evento); upsert each counter
// row once. A known id changes nothing. The dialects differ only in how a statement is run: SQLite
// runs small prepared statements row by row inside one synchronous IMMEDIATE transaction (no
// other work on this thread can slip into it); PostgreSQL sends each step as one statement over
// arrays (unnest), in sorted order so that concurrent batches lock rows in one order.
import type pg from 'pg';
import type { ParsedEvent } from '../event.js';
import { postgresRecord, sqliteRecorder } from './reconcile.js';
import { rememberedFrom } from './tables.js';
import type { Change, CommitResult, CountedGroup, Driver, PostgresDriver, SqliteDriver } from './types.js';
import { batchSketches, FAMILIES, postgresMerge, sqliteMerger, TABLES } from './uniques.js';
import { bump } from './versions.js';

/** Runs one commit of a batch. */
export type Committer = (events: ParsedEvent[]) => Promise<CommitResult>;

// The statements, SQLite and PostgreSQL side by side. Ids are scoped per client (CONTRACT.md):
// the dedupe key is (cliente, id).
const SQL = {
  rememberId: {
    // pub: the publish tag the id is counted from, which tells reconcile a copy of that publish
    // from a duplicate (reconcile.ts).
    sqlite: 'INSERT INTO seen_ids (cliente, id, t, pub) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    postgres: (legacy: boolean) =>
      'INSERT INTO seen_ids (cliente, id, t, pub) ' +
      'SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(c, i, t, p) ' +
      `${legacy ? LEGACY_FILTER : ''} ON CONFLICT DO NOTHING RETURNING cliente, id`,
  },
  minute: {
    sqlite:
      'INSERT INTO counts_minute (t, cliente, evento, count) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = count + excluded.count',
    postgres:
      'INSERT INTO counts_minute (t, cliente, evento, count) ' +
      'SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) ' +
      'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = counts_minute.count + excluded.count',
  },
  total: {
    sqlite:
      'INSERT INTO totals (cliente, evento, count) VALUES (?, ?, ?) ' +
      'ON CONFLICT (cliente, evento) DO UPDATE SET count = count + excluded.count',
    postgres:
      'INSERT INTO totals (cliente, evento, count) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ' +
      'ON CONFLICT (cliente, evento) DO UPDATE SET count = totals.count + excluded.count',
  },
  client: {
    sqlite:
      'INSERT INTO client_totals (cliente, count) VALUES (?, ?) ' +
      'ON CONFLICT (cliente) DO UPDATE SET count = count + excluded.count',
    postgres:
      'INSERT INTO client_totals (cliente, count) SELECT * FROM unnest($1::text[], $2::bigint[]) ' +
      'ON CONFLICT (cliente) DO UPDATE SET count = client_totals.count + excluded.count',
  },
  series: {
    sqlite:
      'INSERT INTO series_minute (t, count) VALUES (?, ?) ON CONFLICT (t) DO UPDATE SET count = count + excluded.count',
    postgres:
      'INSERT INTO series_minute (t, count) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ' +
      'ON CONFLICT (t) DO UPDATE SET count = series_minute.count + excluded.count',
  },
  // Last arrival per (cliente, evento), for silence alerts (alerts.ts): one row per pair of the
  // batch, in the totals' lock order; MAX, so a batch committed late never moves it back.
  seen: {
    sqlite:
      'INSERT INTO last_seen (cliente, evento, at) VALUES (?, ?, ?) ' +
      'ON CONFLICT (cliente, evento) DO UPDATE SET at = max(at, excluded.at)',
    postgres:
      'INSERT INTO last_seen (cliente, evento, at) SELECT c, e, $3::bigint FROM unnest($1::text[], $2::text[]) AS u(c, e) ' +
      'ON CONFLICT (cliente, evento) DO UPDATE SET at = GREATEST(last_seen.at, excluded.at)',
  },
  // Ids remembered before ids were scoped per client (migration 004) are kept under cliente ''
  // and stay known for every client until the dedupe window forgets them. None is ever added back.
  anyLegacy: "SELECT EXISTS (SELECT 1 FROM seen_ids WHERE cliente = '') AS any",
  legacyId: { sqlite: "SELECT 1 FROM seen_ids WHERE cliente = '' AND id = ?" },
};
const LEGACY_FILTER = "WHERE NOT EXISTS (SELECT 1 FROM seen_ids s WHERE s.cliente = '' AND s.id = u.i)";

/** A batch split by its ids: events to remember (by key, in byte order), events without one. */
interface Batch {
  keyed: Map<string, ParsedEvent>;
  withoutId: ParsedEvent[];
  /** Events whose id came earlier in the same batch (known ids, for reconcile). */
  repeated: ParsedEvent[];
}

const keyOf = (cliente: string, id: string) => `${cliente}\u0000${id}`;
const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function split(events: ParsedEvent[], sorted: boolean): Batch {
  const keyed = new Map<string, ParsedEvent>();
  const withoutId: ParsedEvent[] = [];
  const repeated: ParsedEvent[] = [];
  for (const e of events) {
    if (e.id === undefined) withoutId.push(e);
    else {
      const k = keyOf(e.cliente, e.id);
      if (keyed.has(k)) repeated.push(e);
      else keyed.set(k, e);
    }
  }
  if (!sorted) return { keyed, withoutId, repeated };
  // Sorted (PostgreSQL): two batches with overlapping ids wait on each other's inserts in one
  // order, never in a cycle (unsorted, PostgreSQL aborts one with "deadlock detected"). A SQLite
  // commit holds the whole database's write lock from its start (IMMEDIATE): no order is needed.
  return { keyed: new Map([...keyed].sort((a, b) => byBytes(a[0], b[0]))), withoutId, repeated };
}

/** The rows one commit adds to, each once, each list in the order its rows are locked. */
interface Plan {
  /** Per (minute, cliente, evento): the counted groups. */
  groups: CountedGroup[];
  totals: { cliente: string; evento: string; n: number }[];
  clients: [cliente: string, n: number][];
  series: [t: number, n: number][];
}

/** Groups new events by (cliente, evento, minute): each counter row is upserted once per batch. */
function plan(fresh: ParsedEvent[]): Plan {
  const groups = new Map<string, CountedGroup>();
  const series = new Map<number, number>();
  for (const e of fresh) {
    const t = Math.floor(e.ms / 60_000) * 60;
    const key = `${t}\u0000${e.cliente}\u0000${e.evento}`;
    let g = groups.get(key);
    if (g) g.n++;
    else {
      g = { t, cliente: e.cliente, evento: e.evento, n: 1 };
      groups.set(key, g);
    }
    if (e.usuario !== undefined) g.users = (g.users ?? 0) + 1;
    series.set(t, (series.get(t) ?? 0) + 1);
  }
  const sorted = [...groups.values()].sort(
    (a, b) => a.t - b.t || byBytes(a.cliente, b.cliente) || byBytes(a.evento, b.evento),
  );
  const totals = new Map<string, { cliente: string; evento: string; n: number }>();
  for (const g of sorted) {
    const k = `${g.cliente}\u0000${g.evento}`;
    const tot = totals.get(k);
    if (tot) tot.n += g.n;
    else totals.set(k, { cliente: g.cliente, evento: g.evento, n: g.n });
  }
  const byKey = [...totals.values()].sort(
    (a, b) => byBytes(a.cliente, b.cliente) || byBytes(a.evento, b.evento),
  );
  // byKey is sorted by cliente, so client rows are locked in one order too.
  const clients = new Map<string, number>();
  for (const x of byKey) clients.set(x.cliente, (clients.get(x.cliente) ?? 0) + x.n);
  return {
    groups: sorted,
    totals: byKey,
    clients: [...clients],
    series: [...series].sort((a, b) => a[0] - b[0]),
  };
}

/**
 * The events to count (the new ids', then those without one), those whose id was known (for
 * reconcile), and the result of the commit.
 */
function outcome(
  batch: Batch,
  remembered: ParsedEvent[],
): { fresh: ParsedEvent[]; known: ParsedEvent[]; result: CommitResult } {
  const fresh = [...remembered, ...batch.withoutId];
  const isNew = new Set(remembered);
  const known = [...batch.repeated, ...[...batch.keyed.values()].filter((e) => !isNew.has(e))];
  const duplicates = known.length;
  return { fresh, known, result: { counted: fresh.length, duplicates, withoutId: batch.withoutId.length } };
}

/** The commit for a driver; on SQLite, call it once the schema is migrated (it prepares statements). */
export function committer(d: Driver): Committer {
  return d.kind === 'sqlite' ? sqliteCommitter(d) : postgresCommitter(d);
}

function sqliteCommitter(d: SqliteDriver): Committer {
  const db = d.db;
  const remember = db.prepare(SQL.rememberId.sqlite);
  const anyLegacy = db.prepare(SQL.anyLegacy).pluck();
  const legacyId = db.prepare(SQL.legacyId.sqlite).pluck();
  const minute = db.prepare(SQL.minute.sqlite);
  const total = db.prepare(SQL.total.sqlite);
  const client = db.prepare(SQL.client.sqlite);
  const series = db.prepare(SQL.series.sqlite);
  const seen = db.prepare(SQL.seen.sqlite);
  const record = sqliteRecorder(d);
  const sketches = {
    cliente: sqliteMerger(db, 'cliente', TABLES.cliente.minute),
    evento: sqliteMerger(db, 'evento', TABLES.evento.minute),
  };
  let legacy = true;
  const tx = d.immediate((events: ParsedEvent[]) => {
    // Read inside the transaction, which holds the write lock: no other connection commits
    // between these two reads, so the change is exactly this transaction's.
    const before = d.watched() ? d.version() : undefined;
    const arrivalMs = d.now();
    const arrival = Math.floor(arrivalMs / 1000);
    const batch = split(events, false);
    // Checked once per batch while old ids remain (one index probe).
    if (legacy) legacy = anyLegacy.get() === 1;
    const remembered: ParsedEvent[] = [];
    for (const e of batch.keyed.values()) {
      if (legacy && legacyId.get(e.id) !== undefined) continue;
      if (remember.run(e.cliente, e.id, rememberedFrom(e.ms, arrival), e.pub ?? null).changes === 1)
        remembered.push(e);
    }
    const { fresh, known, result } = outcome(batch, remembered);
    // Reconcile's ledger changes in this same transaction (reconcile.ts).
    record(fresh, known, arrival);
    const p = plan(fresh);
    for (const g of p.groups) minute.run(g.t, g.cliente, g.evento, g.n);
    for (const x of p.totals) total.run(x.cliente, x.evento, x.n);
    for (const x of p.totals) seen.run(x.cliente, x.evento, arrivalMs);
    for (const [cliente, n] of p.clients) client.run(cliente, n);
    for (const [t, n] of p.series) series.run(t, n);
    // The new events' users, in the same transaction: a known id adds nobody (uniques.ts).
    const users = batchSketches(fresh);
    for (const f of FAMILIES) sketches[f](users[f]);
    const change: Change | undefined =
      before !== undefined && fresh.length > 0 ? { before, after: d.version(), groups: p.groups } : undefined;
    return { result, change };
  });
  return async (events) => {
    const { result, change } = tx(events);
    if (change) d.changed(change);
    return result;
  };
}

function postgresCommitter(d: PostgresDriver): Committer {
  const legacy = legacyCheck();
  return async (events) => {
    const batch = split(events, true);
    const { result, change } = await d.transaction(async (c) => {
      const arrivalMs = d.now();
      const arrival = Math.floor(arrivalMs / 1000);
      const list = [...batch.keyed.values()];
      let remembered: ParsedEvent[] = [];
      if (list.length > 0) {
        const res = await c.query(SQL.rememberId.postgres(await legacy(c)), [
          list.map((e) => e.cliente),
          list.map((e) => e.id),
          list.map((e) => rememberedFrom(e.ms, arrival)),
          list.map((e) => e.pub ?? null),
        ]);
        remembered = (res.rows as { cliente: string; id: string }[]).map(
          (r) => batch.keyed.get(keyOf(r.cliente, r.id)) as ParsedEvent,
        );
      }
      const { fresh, known, result } = outcome(batch, remembered);
      // Reconcile's ledger changes in this same transaction (reconcile.ts), before the counters:
      // every commit locks its rows in the same order, reconcile_minute then counts_minute.
      await postgresRecord(c, fresh, known, arrival);
      if (fresh.length === 0) return { result, change: undefined };
      const p = plan(fresh);
      await writePostgres(c, p, arrivalMs);
      // The new events' users, in the same transaction, after the counters (the lock order
      // rollups follow too): a known id adds nobody (uniques.ts).
      const users = batchSketches(fresh);
      for (const f of FAMILIES) {
        if (users[f].length > 0) await postgresMerge(c, f, TABLES[f].minute, users[f]);
      }
      // Last: the store version and the log of what this commit counted (versions.ts).
      return { result, change: { v: await bump(c, p.groups), groups: p.groups } };
    });
    // Told only once committed: a transaction that threw changed nothing a listener may count.
    if (change) d.feed.committed(change.v, change.groups);
    return result;
  };
}

/** The plan's upserts, one statement per table, in lock order. */
async function writePostgres(c: pg.PoolClient, p: Plan, arrivalMs: number): Promise<void> {
  const g = p.groups;
  await c.query(SQL.minute.postgres, [
    g.map((x) => x.t),
    g.map((x) => x.cliente),
    g.map((x) => x.evento),
    g.map((x) => x.n),
  ]);
  await c.query(SQL.total.postgres, [
    p.totals.map((x) => x.cliente),
    p.totals.map((x) => x.evento),
    p.totals.map((x) => x.n),
  ]);
  await c.query(SQL.seen.postgres, [
    p.totals.map((x) => x.cliente),
    p.totals.map((x) => x.evento),
    arrivalMs,
  ]);
  await c.query(SQL.client.postgres, [p.clients.map((x) => x[0]), p.clients.map((x) => x[1])]);
  await c.query(SQL.series.postgres, [p.series.map((x) => x[0]), p.series.map((x) => x[1])]);
}

/**
 * Whether ids remembered before migration 004 (cliente '') remain; asked at most once a minute
 * while they do. None is ever added back, so once gone the question is never asked again.
 */
function legacyCheck(): (c: pg.PoolClient) => Promise<boolean> {
  let maybe = true;
  let checkedAt = Number.NEGATIVE_INFINITY;
  return async (c) => {
    if (!maybe) return false;
    const now = performance.now();
    if (now - checkedAt >= 60_000) {
      const r = await c.query(SQL.anyLegacy);
      maybe = r.rows[0].any === true;
      checkedAt = now;
    }
    return maybe;
  };
}
