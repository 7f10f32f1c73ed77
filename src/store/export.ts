// The export: counters per (cliente, evento, bucket), ordered by bucket, streamed by the driver
// (SQLite: a read-only connection of its own; PostgreSQL: a server-side cursor) so a big export
// is never all in memory and never holds up counting.
import { floorTo, num, params, unionAll } from './sql.js';
import { BUCKET_SECONDS } from './tables.js';
import type { Bucket, Driver, ExportRow, Filter } from './types.js';

export function exportRows(d: Driver, filter: Filter, bucket: Bucket): AsyncIterable<ExportRow> {
  const size = BUCKET_SECONDS[bucket];
  const p = params(d.kind);
  const u = unionAll('t, cliente, evento, count', filter, p);
  const sql =
    `SELECT ${num(d.kind, floorTo(size))} AS t, cliente, evento, ${num(d.kind, 'SUM(count)')} AS count ` +
    `FROM (${u}) x GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  return d.stream<ExportRow>(sql, p);
}
