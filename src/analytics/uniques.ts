// GET /api/v1/uniques (CONTRACT.md, "Analytics"): distinct users (usuario) in a range, in total
// and per bucket with `bucket`, merged from the stored sketches (store/uniques.ts). Not kept in
// the report cache: a commit's counted groups (cache.ts) say which counters changed, not which
// users, so a kept answer could not be brought up to date.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/index.js';
import { iso, parseBucket, parseFilter } from './query.js';

export function installUniques(app: FastifyInstance, store: () => Store): void {
  app.get('/api/v1/uniques', async (req) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = q.bucket === undefined || q.bucket === '' ? undefined : parseBucket(q, 'minute');
    const u = await store().uniques(filter, bucket);
    return {
      from: iso(filter.from),
      to: iso(filter.to),
      ...(bucket === undefined ? {} : { bucket }),
      usuarios: u.usuarios,
      ...(u.points ? { points: u.points.map((p) => ({ t: iso(p.t), usuarios: p.usuarios })) } : {}),
    };
  });
}
