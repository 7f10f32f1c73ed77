// The store's tables and bucket sizes, named once (the migrations create them).
import type { Bucket, RollLevel } from './types.js';

export const BUCKET_SECONDS: Record<Bucket, number> = { minute: 60, hour: 3600, day: 86400 };

/** Counters per (bucket, cliente, evento), one table per level; every count lives in exactly one. */
export const COUNTS = { minute: 'counts_minute', hour: 'counts_hour', day: 'counts_day' } as const;
/** Events per bucket over every client and event type, one table per level, moved with COUNTS. */
export const SERIES = { minute: 'series_minute', hour: 'series_hour', day: 'series_day' } as const;
/** The levels a range reads, finest first. */
export const LEVELS = Object.values(COUNTS);
export const SERIES_LEVELS = Object.values(SERIES);
/** The level each rolls up into. */
export const COARSER: Record<RollLevel, Bucket> = { minute: 'hour', hour: 'day' };
/** Distinct-user sketches per (bucket, cliente), one table per level (hll.ts; uniques.ts). */
export const UNIQUES = { minute: 'uniques_minute', hour: 'uniques_hour', day: 'uniques_day' } as const;
/** The same per (bucket, cliente, evento). */
export const UNIQUES_EVENTO = {
  minute: 'uniques_evento_minute',
  hour: 'uniques_evento_hour',
  day: 'uniques_evento_day',
} as const;

/**
 * The time an id is remembered from (seen_ids.t): the later of its event time and its arrival.
 * Pruning forgets ids whose t is older than DEDUPE_WINDOW_DAYS, so a late event (old timestamp,
 * arriving now) is still remembered for the whole window after it arrived: a redelivery or a
 * client's retry of it is not counted twice.
 */
export function rememberedFrom(eventMs: number, arrivalS: number): number {
  return Math.max(Math.floor(eventMs / 1000), arrivalS);
}
