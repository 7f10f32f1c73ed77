// Shared by the retention and export tests: a fixed "now" for the stores' injected clock
// (AT_NOW, for withDb in ./store.ts), a seeded data set spread over 200 days (dense around the
// level boundaries), and an oracle that counts the same events in plain JavaScript.

import type { ParsedEvent } from '../../src/event.js';
import type { Filter, Store, StoreOptions } from '../../src/store/index.js';
import { cutoffs, type RetentionSettings } from '../../src/store/index.js';
import type { KindName } from './store.js';
import { ev } from './store.js';

export const DAY = 86_400;
export const HOUR = 3600;
/** The injected "now" (epoch seconds), deliberately not on a bucket boundary. */
export const NOW = Math.floor(Date.parse('2025-06-15T12:34:56Z') / 1000);
export const SETTINGS: RetentionSettings = {
  dedupeWindowDays: 7,
  minuteRetentionHours: 48,
  hourRetentionDays: 90,
};
export const CUT = cutoffs(NOW, SETTINGS, NOW);

/** The store kinds by name (./store.ts has each kind's factory). */
export const kinds: KindName[] = ['sqlite', 'postgres'];

/** Store options for withDb (support/store.ts): a store's clock reads NOW unless told otherwise. */
export const AT_NOW: StoreOptions = { now: () => NOW * 1000 };

/** A small deterministic PRNG (mulberry32), so a failing data set can be reproduced. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const isoS = (s: number) => new Date(s * 1000).toISOString();

/** n events over the 200 days before NOW, a fifth of them near each rollup cutoff. */
export function dataset(n: number, seed = 1): ParsedEvent[] {
  const rnd = random(seed);
  const out: ParsedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    let t: number;
    if (r < 0.6) t = NOW - Math.floor(rnd() * 200 * DAY);
    else if (r < 0.8) t = CUT.minute + Math.floor((rnd() - 0.5) * 6 * HOUR);
    else t = CUT.hour + Math.floor((rnd() - 0.5) * 6 * DAY);
    const cliente = `cliente_${Math.floor(rnd() * 6)}`;
    const evento = ['click', 'view', 'buy'][Math.floor(rnd() * 3)]!;
    out.push(ev(`e${seed}-${i}`, cliente, evento, isoS(t)));
  }
  return out;
}

export async function commitAll(store: Store, events: ParsedEvent[], batch = 500): Promise<void> {
  for (let i = 0; i < events.length; i += batch) await store.commit(events.slice(i, i + batch));
}

/** The oracle: counts per cliente/evento of the events whose minute bucket starts in the range. */
export function expected(events: ParsedEvent[], f: Filter): string[] {
  const counts = new Map<string, number>();
  for (const e of events) {
    const t = Math.floor(e.ms / 60_000) * 60;
    if (f.from !== undefined && t < f.from) continue;
    if (f.to !== undefined && t >= f.to) continue;
    if (f.cliente !== undefined && e.cliente !== f.cliente) continue;
    if (f.evento !== undefined && e.evento !== f.evento) continue;
    const k = `${e.cliente}/${e.evento}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}=${n}`).sort();
}

/**
 * Ranges aligned to the buckets of the levels they touch, inside each level and across each
 * boundary (a bucket belongs to a range by its start, so only aligned ranges keep their sums when
 * a finer level is rolled into a coarser one).
 */
export const RANGES: Record<string, Filter> = {
  'all time (totals)': {},
  'all time (levels)': { from: NOW - 400 * DAY },
  'inside minutes': { from: CUT.minute + 3 * HOUR, to: CUT.minute + 30 * HOUR },
  'across minutes/hours': { from: CUT.minute - 5 * HOUR, to: CUT.minute + 5 * HOUR },
  'inside hours': { from: CUT.hour + 3 * DAY, to: CUT.minute - 24 * HOUR },
  'across hours/days': { from: CUT.hour - 4 * DAY, to: CUT.hour + 4 * DAY },
  'inside days': { from: CUT.hour - 100 * DAY, to: CUT.hour - 10 * DAY },
  'across all three': { from: CUT.hour - 2 * DAY, to: NOW + HOUR },
  'one client across': { from: CUT.hour - 4 * DAY, to: NOW + DAY, cliente: 'cliente_2' },
  'one event across': { from: CUT.hour - 4 * DAY, to: NOW + DAY, evento: 'view' },
  // Ranges holding most of the events: the stores answer them as totals minus the outside.
  'most, from only': { from: CUT.hour - 60 * DAY },
  'most, both ends': { from: CUT.hour - 60 * DAY, to: CUT.minute + 24 * HOUR },
  'most, one client': { from: CUT.hour - 60 * DAY, cliente: 'cliente_2' },
  'most, one event, to only': { to: CUT.minute + 24 * HOUR, evento: 'view' },
};
