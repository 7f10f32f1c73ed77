// A time series: events per UTC bucket of event time. Without a cliente/evento filter it reads
// the per-bucket series tables (one row per bucket); with one, the counters themselves.
import { floorTo, num, params, unionAll, unionSeries } from './sql.js';
import { BUCKET_SECONDS } from './tables.js';
import type { Bucket, Driver, Filter, Point } from './types.js';

export async function timeseries(d: Driver, filter: Filter, bucket: Bucket): Promise<Point[]> {
  const size = BUCKET_SECONDS[bucket];
  const p = params(d.kind);
  const u =
    filter.cliente === undefined && filter.evento === undefined
      ? unionSeries(filter, p)
      : unionAll('t, count', filter, p);
  const sql =
    `SELECT ${num(d.kind, floorTo(size))} AS t, ${num(d.kind, 'SUM(count)')} AS count ` +
    `FROM (${u}) x GROUP BY 1 ORDER BY 1`;
  return d.all(sql, p);
}
