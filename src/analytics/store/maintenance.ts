// Retention's view of a store: the queries behind the dedupe window and the rollups, kept apart
// from the Store interface (which the consumer and the API use) so that interface stays as it was.

import { PostgresMaintenance } from './maintenance-postgres.js';
import { SqliteMaintenance } from './maintenance-sqlite.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Filter, Store } from './types.js';

/** A level that rolls up into the next coarser one (minute → hour, hour → day). */
export type RollLevel = 'minute' | 'hour';
export const TABLE = { minute: 'counts_minute', hour: 'counts_hour', day: 'counts_day' } as const;
export const SERIES_TABLE = { minute: 'series_minute', hour: 'series_hour', day: 'series_day' } as const;
export const COARSER = { minute: 'hour', hour: 'day' } as const;
export const SIZE = { minute: 60, hour: 3600, day: 86400 } as const;

/** Work done while holding the retention lock; every call is its own short transaction. */
export interface MaintenanceSession {
  /** The newest remembered-id time (seen_ids.t) not after `notAfter`, or undefined when none. */
  newestIdTime(notAfter: number): Promise<number | undefined>;
  /**
   * Forgets up to `limit` ids remembered from before `before` and raises the dedupe horizon to
   * `before`, in one transaction; returns how many it forgot. Forgets nothing while a replay holds
   * pruning (held_until after `now`).
   */
  pruneIds(before: number, limit: number, now: number): Promise<number>;
  /** The oldest bucket start of `level` in [after, before), or undefined when there is none. */
  oldestBucket(level: RollLevel, after: number, before: number): Promise<number | undefined>;
  /**
   * Moves up to `limit` rows of `level` with start in [start, end) into the coarser level, in ONE
   * transaction (delete them, add their counts to the coarser rows): every count stays in exactly
   * one level, so no total or range sum changes. Returns how many rows it moved.
   */
  rollUp(level: RollLevel, start: number, end: number, limit: number): Promise<number>;
}

/**
 * What a replay needs to know to count nothing twice. Pruning forgets ids remembered from before
 * its cutoff and, in the same transaction, raises `horizon` to that cutoff: an id is remembered
 * from the later of its event time and its arrival (types.ts rememberedFrom), so an event whose
 * time is at or after the horizon cannot have been forgotten, and one before it may have been.
 */
export interface DedupeHorizon {
  /** Epoch seconds; undefined when no id was ever forgotten. */
  horizon: number | undefined;
  /** Nothing is counted (a new or wiped store): a replay cannot count anything twice. */
  empty: boolean;
}

export interface Maintenance {
  /**
   * Runs fn while holding the retention lock (one runner at a time); resolves to undefined without
   * running it when another runner holds the lock.
   */
  exclusive<T>(fn: (s: MaintenanceSession) => Promise<T>): Promise<T | undefined>;
  /** Earliest and latest bucket start matching the filter over all levels (for progress bars). */
  span(filter: Filter): Promise<{ min: number; max: number } | undefined>;
  /** The dedupe horizon and whether the store holds any count. */
  horizon(): Promise<DedupeHorizon>;
  /**
   * The same, read in one transaction with holding pruning of ids until `until` (epoch seconds):
   * no id is forgotten before then, so an event at or after the horizon read here stays
   * remembered, and a replay of it cannot count it again (`warren replay`).
   */
  holdPruning(until: number): Promise<DedupeHorizon>;
  /** Rows per level and remembered ids (for `warren prune` and the benchmarks). */
  sizes(): Promise<Record<'seen_ids' | 'counts_minute' | 'counts_hour' | 'counts_day', number>>;
}

export function maintenanceOf(store: Store): Maintenance {
  if (store instanceof SqliteStore) return new SqliteMaintenance(store);
  if (store instanceof PostgresStore) return new PostgresMaintenance(store.pool);
  throw new Error(`retention does not know the store kind "${store.kind}"`);
}

/** Folds (min, max) pairs of several levels into one span. */
export function mergeSpans(rows: { lo: unknown; hi: unknown }[]): { min: number; max: number } | undefined {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (r.lo === null || r.lo === undefined || r.hi === null || r.hi === undefined) continue;
    min = Math.min(min, Number(r.lo));
    max = Math.max(max, Number(r.hi));
  }
  return min === Number.POSITIVE_INFINITY ? undefined : { min, max };
}
