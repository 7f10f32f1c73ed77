// Retention queries on SQLite. SQLite has one writer at a time: each call is one short IMMEDIATE
// transaction, so the consumer's commits wait at most one batch (a few milliseconds), and a
// `warren prune` in another process takes turns with analytics through the file lock.
import {
  COARSER,
  type DedupeHorizon,
  type Maintenance,
  type MaintenanceSession,
  mergeSpans,
  type RollLevel,
  SERIES_TABLE,
  SIZE,
  TABLE,
} from './maintenance.js';
import { type SqliteStore, where } from './sqlite.js';
import type { Filter } from './types.js';

// In-process guard: two stores on one file in one process (tests, `warren analytics` + a
// simulation) run one pass at a time. Across processes a second runner is only wasted work: every
// step is atomic and moves what it deletes, so two runners never change a total.
const running = new Set<unknown>();

export class SqliteMaintenance implements Maintenance {
  constructor(private readonly store: SqliteStore) {}

  async exclusive<T>(fn: (s: MaintenanceSession) => Promise<T>): Promise<T | undefined> {
    const key = this.store.path === ':memory:' ? this.store.db : this.store.path;
    if (running.has(key)) return undefined;
    running.add(key);
    try {
      return await fn(this.session());
    } finally {
      running.delete(key);
    }
  }

  private session(): MaintenanceSession {
    const db = this.store.db;
    const newest = db.prepare('SELECT MAX(t) AS t FROM seen_ids WHERE t <= ?');
    const prune = db.prepare(
      'DELETE FROM seen_ids WHERE (cliente, id) IN (SELECT cliente, id FROM seen_ids WHERE t < ? LIMIT ?)',
    );
    // In the same transaction as the ids it forgets (store/maintenance.ts, DedupeHorizon); the
    // write lock (IMMEDIATE) orders it with a replay's holdPruning().
    const heldUntil = db.prepare('SELECT held_until FROM dedupe_horizon WHERE k = 1').pluck();
    const raiseHorizon = db.prepare('UPDATE dedupe_horizon SET t = ? WHERE k = 1 AND (t IS NULL OR t < ?)');
    const forget = db.transaction((before: number, limit: number, now: number): number => {
      const held = heldUntil.get() as number | null | undefined;
      if (held != null && held > now) return 0;
      const n = prune.run(before, limit).changes;
      if (n > 0) raiseHorizon.run(before, before);
      return n;
    });
    const oldest = {
      minute: db.prepare('SELECT MIN(t) AS t FROM counts_minute WHERE t >= ? AND t < ?'),
      hour: db.prepare('SELECT MIN(t) AS t FROM counts_hour WHERE t >= ? AND t < ?'),
    };
    const roll = { minute: this.roller('minute'), hour: this.roller('hour') };
    return {
      newestIdTime: async (notAfter) => (newest.get(notAfter) as { t: number | null }).t ?? undefined,
      pruneIds: async (before, limit, now) => forget.immediate(before, limit, now),
      oldestBucket: async (level, after, before) =>
        (oldest[level].get(after, before) as { t: number | null }).t ?? undefined,
      rollUp: async (level, start, end, limit) => roll[level].immediate(start, end, limit),
    };
  }

  /** One transaction: delete a chunk of rows of `level` and add their counts to the coarser level. */
  private roller(level: RollLevel) {
    const db = this.store.db;
    const from = TABLE[level];
    const to = TABLE[COARSER[level]];
    const size = SIZE[COARSER[level]];
    const take = db.prepare(
      `DELETE FROM ${from} WHERE (t, cliente, evento) IN ` +
        `(SELECT t, cliente, evento FROM ${from} WHERE t >= ? AND t < ? LIMIT ?) ` +
        'RETURNING t, cliente, evento, count',
    );
    const add = db.prepare(
      `INSERT INTO ${to} (t, cliente, evento, count) VALUES (?, ?, ?, ?) ` +
        'ON CONFLICT (t, cliente, evento) DO UPDATE SET count = count + excluded.count',
    );
    // The per-bucket series move with the counters, in the same transaction (same invariant).
    const seriesFrom = SERIES_TABLE[level];
    const seriesTo = SERIES_TABLE[COARSER[level]];
    const seriesTake = db.prepare(`UPDATE ${seriesFrom} SET count = count - ? WHERE t = ?`);
    const seriesDrop = db.prepare(`DELETE FROM ${seriesFrom} WHERE t = ? AND count = 0`);
    const seriesAdd = db.prepare(
      `INSERT INTO ${seriesTo} (t, count) VALUES (?, ?) ON CONFLICT (t) DO UPDATE SET count = count + excluded.count`,
    );
    return db.transaction((start: number, end: number, limit: number): number => {
      const rows = take.all(start, end, limit) as {
        t: number;
        cliente: string;
        evento: string;
        count: number;
      }[];
      const sums = new Map<string, { t: number; cliente: string; evento: string; n: number }>();
      for (const r of rows) {
        const t = Math.floor(r.t / size) * size;
        const k = `${t}\u0000${r.cliente}\u0000${r.evento}`;
        const s = sums.get(k);
        if (s) s.n += r.count;
        else sums.set(k, { t, cliente: r.cliente, evento: r.evento, n: r.count });
      }
      for (const s of sums.values()) add.run(s.t, s.cliente, s.evento, s.n);
      const fromBuckets = new Map<number, number>();
      const toBuckets = new Map<number, number>();
      for (const r of rows) {
        fromBuckets.set(r.t, (fromBuckets.get(r.t) ?? 0) + r.count);
        const t = Math.floor(r.t / size) * size;
        toBuckets.set(t, (toBuckets.get(t) ?? 0) + r.count);
      }
      for (const [t, n] of fromBuckets) {
        seriesTake.run(n, t);
        seriesDrop.run(t);
      }
      for (const [t, n] of toBuckets) seriesAdd.run(t, n);
      return rows.length;
    });
  }

  async span(filter: Filter): Promise<{ min: number; max: number } | undefined> {
    const w = where(filter);
    const rows = Object.values(TABLE).map(
      (tbl) =>
        this.store.db.prepare(`SELECT MIN(t) AS lo, MAX(t) AS hi FROM ${tbl} ${w.sql}`).get(w.params) as {
          lo: unknown;
          hi: unknown;
        },
    );
    return mergeSpans(rows);
  }

  async horizon(): Promise<DedupeHorizon> {
    return this.readHorizon.immediate(undefined);
  }

  async holdPruning(until: number): Promise<DedupeHorizon> {
    return this.readHorizon.immediate(until);
  }

  /** Reads the horizon and, given `until`, holds pruning until then, under the write lock. */
  private get readHorizon() {
    const db = this.store.db;
    return db.transaction((until: number | undefined): DedupeHorizon => {
      if (until !== undefined)
        db.prepare(
          'UPDATE dedupe_horizon SET held_until = ? WHERE k = 1 AND (held_until IS NULL OR held_until < ?)',
        ).run(until, until);
      const t = db.prepare('SELECT t FROM dedupe_horizon WHERE k = 1').pluck().get() as number | null;
      const counted = db.prepare('SELECT EXISTS (SELECT 1 FROM totals WHERE count <> 0)').pluck().get();
      return { horizon: t ?? undefined, empty: counted !== 1 };
    });
  }

  async sizes() {
    const n = (tbl: string) =>
      (this.store.db.prepare(`SELECT COUNT(*) AS n FROM ${tbl}`).get() as { n: number }).n;
    return {
      seen_ids: n('seen_ids'),
      counts_minute: n('counts_minute'),
      counts_hour: n('counts_hour'),
      counts_day: n('counts_day'),
    };
  }
}
