// Reports: all-time totals per client (/reporte), and counts per (cliente, evento) over a range,
// flat (report) or one line per client (clientReport, /api/v1/report). A range reads the counters
// inside it, or the totals minus the counters outside it, whichever side is smaller.
import { bytes, conditions, num, outside, params, unionAll, unionSeries, where } from './sql.js';
import { LEVELS } from './tables.js';
import type { ClientReport, ClientTotal, CountRow, Driver, Filter } from './types.js';

/** Largest count first, then by name (byte order): the order of every list in a report. */
export function byCountThenName(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/** The eventos object of a report line, written in the given order (what SQLite's json_group_object writes). */
export function eventosJson(entries: [string, number][]): string {
  return `{${entries.map(([e, n]) => `${JSON.stringify(e)}:${n}`).join(',')}}`;
}

/** Report rows grouped into lines per client (for stores that do not group in SQL). */
export function groupByClient(rows: CountRow[]): ClientReport[] {
  const map = new Map<string, { total: number; eventos: [string, number][] }>();
  for (const r of rows) {
    const n = Number(r.count);
    if (n === 0) continue;
    let c = map.get(r.cliente);
    if (!c) {
      c = { total: 0, eventos: [] };
      map.set(r.cliente, c);
    }
    c.total += n;
    c.eventos.push([r.evento, n]);
  }
  return [...map].map(([cliente, c]) => ({
    cliente,
    total: c.total,
    eventos: eventosJson(c.eventos.sort(byCountThenName)),
  }));
}

/**
 * A range report reads the counters inside the range, or the totals minus the counters outside it
 * (the totals are the sum of every level: commits and rollups keep them so in one transaction).
 * The second is cheaper when most events lie inside: "the last 24 h" of a store that keeps a day
 * or two of minutes, or any range that covers most of the data.
 */
export function complementIsSmaller(insideEvents: number, allEvents: number): boolean {
  return insideEvents > 0 && insideEvents * 2 > allEvents;
}

export async function clientTotals(d: Driver): Promise<ClientTotal[]> {
  const sql = `SELECT cliente, ${num(d.kind, 'count')} AS count FROM client_totals ORDER BY count DESC, ${bytes(d.kind, 'cliente')}`;
  return d.all(sql, params(d.kind));
}

export async function report(d: Driver, filter: Filter): Promise<CountRow[]> {
  const p = params(d.kind);
  const n = (expr: string) => num(d.kind, expr);
  let sql: string;
  if (filter.from === undefined && filter.to === undefined) {
    sql = `SELECT cliente, evento, ${n('count')} AS count FROM totals ${where(filter, p)}`;
  } else if (await mostlyInside(d, filter)) {
    // Totals minus what lies outside the range (DESIGN.md: the totals are the sum of every
    // level, kept in the same transactions), reading the smaller side of the range.
    const keys = where({ cliente: filter.cliente, evento: filter.evento }, p);
    const out = outside(filter, p);
    const minus = LEVELS.map((tbl) => `SELECT cliente, evento, -count AS count FROM ${tbl} ${out}`);
    sql =
      `SELECT cliente, evento, ${n('SUM(count)')} AS count FROM (SELECT cliente, evento, count FROM totals ${keys} ` +
      `UNION ALL ${minus.join(' UNION ALL ')}) x GROUP BY cliente, evento HAVING SUM(count) <> 0`;
  } else {
    const u = unionAll('cliente, evento, count', filter, p);
    sql = `SELECT cliente, evento, ${n('SUM(count)')} AS count FROM (${u}) x GROUP BY cliente, evento`;
  }
  return d.all(sql, p);
}

export async function clientReport(d: Driver, filter: Filter): Promise<ClientReport[]> {
  if (d.kind === 'postgres') return groupByClient(await report(d, filter));
  // SQLite groups per client in SQL, each client's events as one JSON text: 10,000 clients come
  // back as 10,000 rows instead of 200,000 (cliente, evento) rows, the slow part of a big report.
  const p = params(d.kind);
  let rows: string;
  if (filter.from === undefined && filter.to === undefined) {
    rows = `SELECT cliente, evento, count FROM totals ${where(filter, p)}`;
  } else if (await mostlyInside(d, filter)) {
    // Totals minus what lies outside the range, as in report(); the totals are read in key
    // order and joined to the (few) outside sums, so nothing big is sorted.
    const keys = where({ cliente: filter.cliente, evento: filter.evento }, p);
    const out = outside(filter, p);
    const outRows = LEVELS.map((tbl) => `SELECT cliente, evento, count FROM ${tbl} ${out}`).join(
      ' UNION ALL ',
    );
    rows =
      'SELECT t.cliente AS cliente, t.evento AS evento, t.count - COALESCE(o.n, 0) AS count ' +
      `FROM (SELECT cliente, evento, count FROM totals ${keys}) t LEFT JOIN ` +
      `(SELECT cliente, evento, SUM(count) AS n FROM (${outRows}) GROUP BY cliente, evento) o ` +
      'ON o.cliente = t.cliente AND o.evento = t.evento';
  } else {
    const u = unionAll('cliente, evento, count', filter, p);
    rows = `SELECT cliente, evento, SUM(count) AS count FROM (${u}) GROUP BY cliente, evento`;
  }
  const sql =
    'SELECT cliente, SUM(count) AS total, ' +
    `json_group_object(evento, count ORDER BY count DESC, evento) AS eventos FROM (${rows}) ` +
    'WHERE count <> 0 GROUP BY cliente';
  return d.all(sql, p);
}

/** True when most counted events (all clients, per the series tables) lie inside the range. */
async function mostlyInside(d: Driver, filter: Filter): Promise<boolean> {
  const p = params(d.kind);
  const inside = conditions({ from: filter.from, to: filter.to }, p).join(' AND ');
  const u = unionSeries({}, p);
  const [r] = await d.all<{ inside: number; total: number }>(
    `SELECT ${num(d.kind, `COALESCE(SUM(CASE WHEN ${inside} THEN count ELSE 0 END), 0)`)} AS inside, ` +
      `${num(d.kind, 'COALESCE(SUM(count), 0)')} AS total FROM (${u}) x`,
    p,
  );
  return complementIsSmaller(Number(r?.inside), Number(r?.total));
}
