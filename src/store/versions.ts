// PostgreSQL's store version and change log (migration 008): how every analytics process on one
// database keeps its report answers exact without computing them again after each commit.
//
// Every transaction that changes a counter bumps `store_version.v` as its last write (bump()). The
// row lock makes those transactions take turns at their end only (the counters' own row locks
// already order commits that touch the same rows), and one that waits re-reads the newest v
// (READ COMMITTED), so the versions are consecutive and a snapshot that reads v = N sees exactly
// the changes 1..N. A commit also logs what it counted (its groups), so a process holding an
// answer at N - 1 adds change N to it (the report cache, src/analytics/cache.ts, through
// Store.onChange) whichever process made it; a rollup logs nothing to add (NULL): answers at the
// version before it are computed again. The log keeps the last KEPT_CHANGES changes: each bump
// deletes the one that many behind it, so it never grows.
import type pg from 'pg';
import { describe, WarrenError } from '../errors.js';
import type { Change, CountedGroup } from './types.js';

/** Changes kept in store_changes; an answer further behind than this is computed again. */
export const KEPT_CHANGES = 256;

const SQL = {
  // One statement: the bump, its log row, and the oldest row out. The row lock is taken here, so
  // this is the transaction's last statement before COMMIT (nothing waits while holding it).
  bump:
    'WITH b AS (UPDATE store_version SET v = v + 1 WHERE k = 1 RETURNING v), ' +
    'logged AS (INSERT INTO store_changes (v, groups) SELECT v, $1 FROM b), ' +
    `gone AS (DELETE FROM store_changes WHERE v = (SELECT v - ${KEPT_CHANGES} FROM b)) ` +
    'SELECT v::text AS v FROM b',
  current: 'SELECT v::text AS v FROM store_version WHERE k = 1',
  // The version, and the logged changes after $1 up to it that can be added (not this process's
  // own, $2, which it has already; none when more than $3 behind: computing again is cheaper).
  since:
    'SELECT s.v::text AS v, c.v::text AS cv, c.groups FROM store_version s ' +
    'LEFT JOIN store_changes c ON c.v > $1 AND c.v <= s.v AND s.v - $1 <= $3 ' +
    'AND c.groups IS NOT NULL AND c.v <> ALL ($2::bigint[]) WHERE s.k = 1 ORDER BY c.v',
};

type Encoded = [t: number, cliente: string, evento: string, n: number, users?: number];

function encode(groups: readonly CountedGroup[]): string {
  return JSON.stringify(
    groups.map(
      (g): Encoded => (g.users ? [g.t, g.cliente, g.evento, g.n, g.users] : [g.t, g.cliente, g.evento, g.n]),
    ),
  );
}

function decode(text: string): CountedGroup[] {
  return (JSON.parse(text) as Encoded[]).map(([t, cliente, evento, n, users]) =>
    users ? { t, cliente, evento, n, users } : { t, cliente, evento, n },
  );
}

const changeAt = (v: number, groups: readonly CountedGroup[]): Change => ({
  before: String(v - 1),
  after: String(v),
  groups,
});

/**
 * Bumps the store version inside the caller's transaction, logging the groups a commit counted
 * (null: a change that cannot be added, a rollup). Call it as the transaction's last statement.
 * Returns the new version.
 */
export async function bump(c: pg.PoolClient, groups: readonly CountedGroup[] | null): Promise<number> {
  const r = await c.query(SQL.bump, [groups === null ? null : encode(groups)]);
  return Number(r.rows[0].v);
}

/** The version a transaction's snapshot sees (read first, it fixes a REPEATABLE READ snapshot). */
export async function snapshotVersion(c: pg.PoolClient): Promise<string> {
  return (await c.query(SQL.current)).rows[0].v as string;
}

const NO_ROW = 'store_version has no row: migrate the store (warren analytics does at start)';

function unavailable(err: unknown): WarrenError {
  return new WarrenError(
    'store_unavailable',
    `The store's version could not be read (${describe(err)}); retry shortly.`,
    { status: 503, retryAfterS: 1, cause: err },
  );
}

/**
 * The changes of one database as this process's listeners see them: each commit (this process's
 * or another's) once, in version order, each between the versions around it. This process's own
 * commits are told as they return; the others' when the version is next asked for (version()),
 * read from the log in the same round trip.
 */
export class ChangeFeed {
  /** Every change up to this version has been told (or could not be); undefined: none listens. */
  private known: number | undefined;
  /** This process's commits past `known`, kept until the changes before them are read. */
  private readonly ahead = new Map<number, Change>();
  private readonly listeners = new Set<(change: Change) => void>();
  /** The version read under way, and the one that starts once it is done (version()). */
  private reading: Promise<string> | undefined;
  private waiting: Promise<string> | undefined;

  constructor(private readonly pool: Pick<pg.Pool, 'query'>) {}

  onChange(listener: (change: Change) => void): () => void {
    // A new listener holds nothing yet: start from the next version asked for.
    this.known = undefined;
    this.ahead.clear();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A commit of this process reached version v with these groups (called once committed). */
  committed(v: number, groups: readonly CountedGroup[]): void {
    const known = this.known;
    if (known === undefined || this.listeners.size === 0 || v <= known) return;
    const change = changeAt(v, groups);
    if (v !== known + 1) {
      // Another process's commit came between: told once read from the log (version()).
      if (this.ahead.size < KEPT_CHANGES) this.ahead.set(v, change);
      return;
    }
    this.advance(v, [change]);
    // This process's later commits that returned first (the pool runs several at once).
    for (let next = v + 1; this.ahead.has(next); next++) this.advance(next, []);
  }

  /**
   * The current version; first tells the listeners every change since the last one told. Asks
   * arriving while a read is under way share the next one (it starts after they arrived, so it
   * sees every commit visible to them): at most one read at a time, however many answers are asked.
   */
  version(): Promise<string> {
    if (!this.reading) return this.read();
    this.waiting ??= this.reading
      .catch(() => undefined)
      .then(() => {
        this.waiting = undefined;
        return this.read();
      });
    return this.waiting;
  }

  private read(): Promise<string> {
    const p = this.fetch().finally(() => {
      if (this.reading === p) this.reading = undefined;
    });
    this.reading = p;
    return p;
  }

  private async fetch(): Promise<string> {
    const known = this.known;
    try {
      if (known === undefined || this.listeners.size === 0) {
        const v = (await this.pool.query(SQL.current)).rows[0]?.v as string | undefined;
        if (v === undefined) throw new Error(NO_ROW);
        if (this.listeners.size > 0 && this.known === undefined) this.known = Number(v);
        return v;
      }
      const r = await this.pool.query(SQL.since, [known, [...this.ahead.keys()], KEPT_CHANGES]);
      const rows = r.rows as { v: string; cv: string | null; groups: string | null }[];
      const fetched = rows
        .filter((x) => x.cv !== null && x.groups !== null)
        .map((x) => changeAt(Number(x.cv), decode(x.groups as string)));
      const v = rows[0]?.v;
      if (v === undefined) throw new Error(NO_ROW);
      this.advance(Number(v), fetched);
      return v;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Tells, in version order, the changes up to v not told yet; then every change up to v is past. */
  private advance(v: number, fetched: Change[]): void {
    const from = this.known;
    if (from === undefined || v <= from) return;
    const due = [...fetched, ...[...this.ahead.values()].filter((c) => Number(c.after) <= v)];
    due.sort((a, b) => Number(a.after) - Number(b.after));
    this.known = v;
    let last = from;
    for (const change of due) {
      const at = Number(change.after);
      if (at <= last) continue;
      last = at;
      this.tell(change);
    }
    for (const k of this.ahead.keys()) if (k <= v) this.ahead.delete(k);
  }

  private tell(change: Change): void {
    // A listener's failure is its own: the entry it was updating is computed again.
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // left behind its version
      }
    }
  }
}
