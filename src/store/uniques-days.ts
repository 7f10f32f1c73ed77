// Distinct users over long ranges without merging every stored sketch each time. A 90-day range of
// all clients holds one sketch row per (bucket, cliente): hundreds of thousands of rows at
// hour resolution, far too many to read and merge per request. So each store object keeps, per
// filter and whole UTC day, the union of that day's sketches (every level: a day's minute, hour and
// day buckets all start in it), and a range is answered from its whole days' unions plus the raw
// rows of its partial first and last days. Unions merge exactly, so the answer is the same sketch
// the raw rows give. The same unions give the points of bucket=day (a whole day is one bucket),
// and, kept per client, the users of every client over a range (/api/v1/report).
//
// A kept union is used only while its day's event count (the series tables, every level) is what
// it was when the union was read: a commit that adds users to a day adds events to it in the same
// transaction, counts only grow (rollups move them between levels of the same day, never out of
// it), so an unchanged count means an unchanged day. The count is read BEFORE the rows: a commit
// landing between the two makes the kept count older than the rows, never newer, so the next
// request sees a new count and reads the day again (no stale union is ever kept). Nothing here
// assumes one process: each checks the counts in the database, on SQLite and PostgreSQL alike.
import type { DayUnions, Groups } from './day-unions.js';
import { Sketch } from './hll.js';
import { floorTo, num, params, unionSeries, where } from './sql.js';
import type { Driver, Filter, Uniques } from './types.js';
import { type Family, TABLES } from './uniques.js';

const DAY = 86_400;

/** What a day's union is kept by: all the filter's users in one sketch, or one per client. */
type Split = 'all' | 'cliente';

/**
 * The whole UTC days inside the range: [first, end), a side undefined where the range is open
 * (every day on that side is whole). Undefined when a closed range holds no whole day.
 */
function wholeDays(filter: Filter): { first?: number; end?: number } | undefined {
  const first = filter.from === undefined ? undefined : Math.ceil(filter.from / DAY) * DAY;
  const end = filter.to === undefined ? undefined : Math.floor(filter.to / DAY) * DAY;
  if (first !== undefined && end !== undefined && end - first < DAY) return undefined;
  return { first, end };
}

/** Events per day in [first, end), every level (a side undefined: open). */
async function dayCounts(d: Driver, first?: number, end?: number): Promise<Map<number, number>> {
  const p = params(d.kind);
  const sql =
    `SELECT ${num(d.kind, floorTo(DAY))} AS d, ${num(d.kind, 'SUM(count)')} AS n ` +
    `FROM (${unionSeries({ from: first, to: end }, p)}) s GROUP BY 1`;
  const rows = await d.all<{ d: number; n: number }>(sql, p);
  return new Map(rows.map((r) => [Number(r.d), Number(r.n)]));
}

/** The filter's sketches whose bucket starts in [from, to), merged per day and group of `split`. */
async function readDays(d: Driver, filter: Filter, split: Split, into: Map<number, Groups>): Promise<void> {
  const family: Family = filter.evento === undefined ? 'cliente' : 'evento';
  const p = params(d.kind);
  const w = where(filter, p);
  const cols = `${num(d.kind, floorTo(DAY))} AS t, ${split === 'cliente' ? 'cliente' : "'' AS cliente"}`;
  const sql = Object.values(TABLES[family])
    .map((tbl) => `SELECT ${cols}, sketch FROM ${tbl} ${w}`)
    .join(' UNION ALL ');
  for (const r of await d.all<{ t: number; cliente: string; sketch: Buffer }>(sql, p)) {
    const s = Sketch.deserialize(r.sketch);
    let day = into.get(Number(r.t));
    if (!day) {
      day = new Map();
      into.set(Number(r.t), day);
    }
    const g = day.get(r.cliente);
    if (g) g.merge(s);
    else day.set(r.cliente, s);
  }
}

/**
 * The filter's users per UTC day and group: whole days from kept unions where their day's count is
 * unchanged, the rest read (and kept), and the partial first and last days from their raw rows
 * (under the day they start in, as bucket=day places them). Days without users are absent.
 * Undefined when a closed range has no whole day (the caller reads the raw rows).
 */
async function usersByDay(
  d: Driver,
  filter: Filter,
  split: Split,
  cache: DayUnions,
): Promise<Map<number, Groups> | undefined> {
  const days = wholeDays(filter);
  if (!days) return undefined;
  const scope = `${split}\u0000${filter.cliente ?? ''}\u0000${filter.evento ?? ''}\u0000`;
  const counts = await dayCounts(d, days.first, days.end);
  const out = new Map<number, Groups>();
  const stale: number[] = [];
  for (const [day, n] of counts) {
    const kept = cache.get(scope + day, n);
    if (kept) {
      cache.hits++;
      out.set(day, kept);
    } else stale.push(day);
  }
  if (stale.length > 0) {
    cache.misses += stale.length;
    const read = new Map<number, Groups>();
    const from = Math.min(...stale);
    await readDays(d, { ...filter, from, to: Math.max(...stale) + DAY }, split, read);
    for (const day of stale) {
      const groups = read.get(day) ?? new Map<string, Sketch>();
      cache.set(scope + day, counts.get(day)!, groups);
      out.set(day, groups);
    }
  }
  if (days.first !== undefined && filter.from! < days.first) {
    await readDays(d, { ...filter, to: days.first }, split, out);
  }
  if (days.end !== undefined && days.end < filter.to!) {
    await readDays(d, { ...filter, from: days.end }, split, out);
  }
  for (const [day, groups] of out) if (groups.size === 0) out.delete(day);
  return out;
}

/**
 * Distinct users of a range with whole days in it (closed, or open on a side), in total and per
 * day with bucket=day, from usersByDay. Undefined when a closed range has no whole day.
 */
export async function uniquesByDays(
  d: Driver,
  filter: Filter,
  cache: DayUnions,
  bucket?: 'day',
): Promise<Uniques | undefined> {
  const days = await usersByDay(d, filter, 'all', cache);
  if (!days) return undefined;
  const total = new Sketch();
  const points: { t: number; usuarios: number }[] = [];
  for (const [t, groups] of [...days].sort((a, b) => a[0] - b[0])) {
    const s = groups.get('');
    if (!s) continue;
    total.merge(s);
    points.push({ t, usuarios: s.estimate() });
  }
  return bucket === undefined ? { usuarios: total.estimate() } : { usuarios: total.estimate(), points };
}

/**
 * Distinct users per client of a range with whole days in it, from usersByDay kept per client;
 * clients without users left out. Undefined when a closed range has no whole day.
 */
export async function clientUniquesByDays(
  d: Driver,
  filter: Filter,
  cache: DayUnions,
): Promise<Map<string, number> | undefined> {
  const days = await usersByDay(d, filter, 'cliente', cache);
  if (!days) return undefined;
  const per = new Map<string, Sketch>();
  for (const groups of days.values()) {
    for (const [cliente, s] of groups) {
      let c = per.get(cliente);
      if (!c) {
        c = new Sketch();
        per.set(cliente, c);
      }
      c.merge(s);
    }
  }
  return new Map([...per].map(([c, s]) => [c, s.estimate()]));
}
