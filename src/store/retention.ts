// Data lifecycle: the dedupe window and the rollups (CONTRACT.md, "Ranges"; DESIGN.md invariant 3).
// One pass: forget old ids, move complete old minute buckets into hours, old hours into days.
// Every step is one short transaction that deletes rows and adds their counts one level up, so
// each count lives in exactly one level at every moment: totals and range sums (of ranges aligned
// to the level's buckets) never change, and counting goes on between steps.
// The steps' statements are in horizon.ts (ids) and rollup.ts; the lock and the sizes are here.

import { maintenanceOf } from './maintenance.js';
import { reconcileOf } from './store.js';
import { BUCKET_SECONDS, COARSER } from './tables.js';
import type { Maintenance, MaintenanceSession, RollLevel, Store } from './types.js';

export interface RetentionSettings {
  dedupeWindowDays: number;
  minuteRetentionHours: number;
  hourRetentionDays: number;
}

/** Epoch seconds: ids remembered from before `ids`, and buckets starting before `minute`/`hour`, go. */
export interface Cutoffs {
  ids: number;
  minute: number;
  hour: number;
}

export interface PassResult {
  /** Another runner held the lock: this pass did nothing. */
  skipped: boolean;
  /** Stopped early (shutdown); what it did so far stays done. */
  aborted: boolean;
  now: number;
  cutoffs: Cutoffs | undefined;
  idsPruned: number;
  /**
   * Reconcile rows (per-minute ledger, report ids, duplicate marks) forgotten with the ids: they
   * stay per minute, never rolled up, for the dedupe window; past it a redelivered id would be
   * counted again, so the equation would prove nothing there.
   */
  reconcileRows: number;
  /** Minute rows moved into hour rows. */
  minuteRows: number;
  /** Hour rows moved into day rows. */
  hourRows: number;
  ms: number;
}

export interface Progress {
  step: 'ids' | RollLevel;
  /** Rows done so far in this step. */
  rows: number;
  /** The bucket being rolled up (epoch seconds), for the rollup steps. */
  bucket?: number;
}

export interface PassOptions {
  /** The pass's "now" (epoch seconds); the real clock by default. */
  now?: number;
  /** Rows per transaction (default 5,000 ids, 2,000 counter rows). */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

const floorTo = (t: number, size: number) => Math.floor(t / size) * size;

/**
 * The cutoffs of a pass at `now`. The id cutoff is relative to now AND to the newest remembered id
 * (not after now): while nothing is counted (every analytics process down, messages waiting in
 * the queue or committed but not yet acked), the ids of the last events counted stay remembered
 * however long the outage, so a redelivery after it is still recognised. Since an id is remembered
 * from the later of its event time and its arrival (tables.ts rememberedFrom), the window is
 * also a floor of DEDUPE_WINDOW_DAYS (>= 1 day) after arrival: a late event is remembered as long
 * after it arrived as any other, far longer than a redelivery (seconds to minutes after a crash
 * between commit and ack) or a publisher's retry after a lost confirm takes.
 * Rollup cutoffs are aligned to the coarser bucket, so only complete buckets move.
 */
export function cutoffs(now: number, s: RetentionSettings, newestId: number | undefined): Cutoffs {
  return {
    ids: Math.min(now, newestId ?? now) - s.dedupeWindowDays * 86_400,
    minute: floorTo(now - s.minuteRetentionHours * 3600, 3600),
    hour: floorTo(now - s.hourRetentionDays * 86_400, 86_400),
  };
}

// Between transactions: lets the consumer (same thread on SQLite) and HTTP requests run.
const breathe = () => new Promise((r) => setImmediate(r));

async function pruneIds(
  s: MaintenanceSession,
  before: number,
  now: number,
  batch: number,
  o: PassOptions,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await s.pruneIds(before, batch, now);
    total += n;
    o.onProgress?.({ step: 'ids', rows: total });
    if (n < batch || o.signal?.aborted) return total;
    await breathe();
  }
}

/**
 * Rolls every bucket of `level` older than `before` into the coarser level, oldest first, in
 * transactions of at most `batch` rows. A step covers whole coarser buckets (an hour of minutes, a
 * day of hours): one bucket when data is dense, up to 64 when it is sparse (old, quiet data would
 * otherwise cost two round trips per nearly empty bucket).
 */
async function rollUp(
  s: MaintenanceSession,
  level: RollLevel,
  before: number,
  batch: number,
  o: PassOptions,
): Promise<number> {
  const size = BUCKET_SECONDS[COARSER[level]];
  let total = 0;
  let span = 1;
  let after = Number.MIN_SAFE_INTEGER;
  while (!o.signal?.aborted) {
    const t = await s.oldestBucket(level, after, before);
    if (t === undefined) break;
    const start = floorTo(t, size);
    const end = Math.min(start + span * size, before);
    // Each range is visited once per pass: rows a commit adds behind us wait for the next pass.
    after = end;
    let chunks = 0;
    let n = 0;
    do {
      n = await s.rollUp(level, start, end, batch);
      chunks++;
      total += n;
      o.onProgress?.({ step: level, rows: total, bucket: start });
      await breathe();
    } while (n === batch && !o.signal?.aborted);
    if (chunks > 1) span = Math.max(1, span / 2);
    else if (n < batch / 4) span = Math.min(64, span * 2);
  }
  return total;
}

/** Runs one retention pass; safe while analytics counts into the same store. */
export async function retentionPass(
  store: Store,
  settings: RetentionSettings,
  o: PassOptions = {},
): Promise<PassResult> {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const started = performance.now();
  const result: PassResult = {
    skipped: true,
    aborted: false,
    now,
    cutoffs: undefined,
    idsPruned: 0,
    reconcileRows: 0,
    minuteRows: 0,
    hourRows: 0,
    ms: 0,
  };
  const m: Maintenance = maintenanceOf(store);
  await m.exclusive(async (s) => {
    result.skipped = false;
    const cut = cutoffs(now, settings, await s.newestIdTime(now));
    result.cutoffs = cut;
    result.idsPruned = await pruneIds(s, cut.ids, now, o.batch ?? 5000, o);
    result.reconcileRows = (await reconcileOf(store)?.prune(cut.ids)) ?? 0;
    result.minuteRows = await rollUp(s, 'minute', cut.minute, o.batch ?? 2000, o);
    result.hourRows = await rollUp(s, 'hour', cut.hour, o.batch ?? 2000, o);
  });
  result.aborted = o.signal?.aborted ?? false;
  result.ms = Math.round(performance.now() - started);
  return result;
}
