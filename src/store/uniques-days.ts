// Distinct users over long ranges without merging every stored sketch each time. A 90-day range of
// all clients holds one sketch row per (bucket, cliente): hundreds of thousands of rows at
// hour resolution, far too many to read and merge per request. So each store object keeps, per
// filter and whole UTC day, the union of that day's sketches (every level: a day's minute, hour and
// day buckets all start in it), and a range is answered from its whole days' unions plus the raw
// rows of its partial first and last days. Unions merge exactly, so the answer is the same sketch
// the raw rows give.
//
// A kept union is used only while its day's event count (the series tables, every level) is what
// it was when the union was read: a commit that adds users to a day adds events to it in the same
// transaction, counts only grow (rollups move them between levels of the same day, never out of
// it), so an unchanged count means an unchanged day. The count is read BEFORE the rows: a commit
// landing between the two makes the kept count older than the rows, never newer, so the next
// request sees a new count and reads the day again (no stale union is ever kept). Nothing here
// assumes one process: each checks the counts in the database, on SQLite and PostgreSQL alike.
import { Sketch } from './hll.js';
import { floorTo, num, params, unionSeries, where } from './sql.js';
import type { Driver, Filter, Uniques } from './types.js';
import { type Family, TABLES } from './uniques.js';

const DAY = 86_400;
/** Bytes of kept unions per store object (a dense sketch is 16 KB in memory). */
const MAX_BYTES = 32 * 1024 * 1024;

interface Entry {
  count: number;
  sketch: Sketch;
  bytes: number;
}

/** Day unions of one store object, least recently used dropped past MAX_BYTES. */
export class DayUnions {
  constructor(private readonly maxBytes = MAX_BYTES) {}

  private readonly entries = new Map<string, Entry>();
  /** Rough bytes held (MAX_BYTES at most). */
  bytes = 0;
  hits = 0;
  misses = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string, count: number): Sketch | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.count !== count) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.sketch;
  }

  set(key: string, count: number, sketch: Sketch): void {
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    const bytes = sketch.sparse ? 64 + sketch.estimate() * 16 : 16_500;
    this.entries.set(key, { count, sketch, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }
}

/** Whole UTC days inside [from, to); undefined when there are none (or the range is open). */
function wholeDays(filter: Filter): { first: number; end: number } | undefined {
  if (filter.from === undefined || filter.to === undefined) return undefined;
  const first = Math.ceil(filter.from / DAY) * DAY;
  const end = Math.floor(filter.to / DAY) * DAY;
  return end - first >= DAY ? { first, end } : undefined;
}

/** Events per day in [first, end), every level. */
async function dayCounts(d: Driver, first: number, end: number): Promise<Map<number, number>> {
  const p = params(d.kind);
  const sql =
    `SELECT ${num(d.kind, floorTo(DAY))} AS d, ${num(d.kind, 'SUM(count)')} AS n ` +
    `FROM (${unionSeries({ from: first, to: end }, p)}) s GROUP BY 1`;
  const rows = await d.all<{ d: number; n: number }>(sql, p);
  return new Map(rows.map((r) => [Number(r.d), Number(r.n)]));
}

/** The filter's sketches whose bucket starts in [from, to), merged per day (or into one sketch). */
async function readSketches(
  d: Driver,
  family: Family,
  filter: Filter,
  perDay: Map<number, Sketch> | undefined,
  into: Sketch,
): Promise<void> {
  const p = params(d.kind);
  const w = where(filter, p);
  const t = perDay ? num(d.kind, floorTo(DAY)) : 't';
  const sql = Object.values(TABLES[family])
    .map((tbl) => `SELECT ${t} AS t, sketch FROM ${tbl} ${w}`)
    .join(' UNION ALL ');
  for (const r of await d.all<{ t: number; sketch: Buffer }>(sql, p)) {
    const s = Sketch.deserialize(r.sketch);
    if (!perDay) {
      into.merge(s);
      continue;
    }
    const day = perDay.get(Number(r.t));
    if (day) day.merge(s);
    else perDay.set(Number(r.t), s);
  }
}

/**
 * Distinct users of a closed range with whole days in it: kept day unions where their day's count
 * is unchanged, the rest read (and kept), plus the partial days' raw rows. Undefined when the range
 * has no whole day (the caller reads the raw rows).
 */
export async function uniquesByDays(
  d: Driver,
  filter: Filter,
  cache: DayUnions,
): Promise<Uniques | undefined> {
  const days = wholeDays(filter);
  if (!days) return undefined;
  const family: Family = filter.evento === undefined ? 'cliente' : 'evento';
  const scope = `${family}\u0000${filter.cliente ?? ''}\u0000${filter.evento ?? ''}\u0000`;
  const counts = await dayCounts(d, days.first, days.end);
  const total = new Sketch();
  const stale: number[] = [];
  for (const [day, n] of counts) {
    const kept = cache.get(scope + day, n);
    if (kept) {
      cache.hits++;
      total.merge(kept);
    } else stale.push(day);
  }
  if (stale.length > 0) {
    cache.misses += stale.length;
    const perDay = new Map<number, Sketch>();
    const from = Math.min(...stale);
    const to = Math.max(...stale) + DAY;
    await readSketches(d, family, { ...filter, from, to }, perDay, total);
    for (const day of stale) {
      const s = perDay.get(day) ?? new Sketch();
      cache.set(scope + day, counts.get(day)!, s);
      total.merge(s);
    }
  }
  // The partial days at both ends, from their raw rows.
  await readSketches(d, family, { ...filter, to: days.first }, undefined, total);
  await readSketches(d, family, { ...filter, from: days.end }, undefined, total);
  return { usuarios: total.estimate() };
}
