// GET /api/v1/uniques (CONTRACT.md, "Analytics"): distinct users (usuario) in a range, in total
// and per bucket with `bucket`, merged from the stored sketches (store/uniques.ts). Read like the
// reports: on a read worker (SQLite) or a share of the pool (PostgreSQL), and kept in the report
// cache. A kept answer takes a commit whose events carry no usuario in its range as it is (no
// user came in); a commit that brings users into its range makes it be computed again, since
// only the sketches know how many of them were new.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Bucket, CountedGroup, Filter, Uniques } from '../store/index.js';
import type { Computed, View } from './cache.js';
import { documentOnly, routeSchemas } from './docs.js';
import { iso, parseBucket, parseFilter } from './query.js';
import type { ReadPool } from './reader.js';
import { inFilter } from './views.js';

/** api.ts's cached(): answers from the report cache, computing on a read slot when needed. */
export type Cached = (
  reply: FastifyReply,
  key: string,
  compute: (p: ReadPool) => Promise<Computed>,
) => Promise<unknown>;

export class UniquesView implements View {
  private readonly out: Buffer;

  constructor(
    private readonly filter: Filter,
    bucket: Bucket | undefined,
    u: Uniques,
  ) {
    this.out = Buffer.from(
      JSON.stringify({
        from: iso(filter.from),
        to: iso(filter.to),
        ...(bucket === undefined ? {} : { bucket }),
        usuarios: u.usuarios,
        ...(u.points ? { points: u.points.map((p) => ({ t: iso(p.t), usuarios: p.usuarios })) } : {}),
      }),
    );
  }

  apply(groups: readonly CountedGroup[]): boolean {
    return !groups.some((g) => g.users !== undefined && g.users > 0 && inFilter(this.filter, g));
  }

  body(): Buffer {
    return this.out;
  }

  size(): number {
    return this.out.length + 200;
  }
}

export function installUniques(app: FastifyInstance, cached: Cached): void {
  app.get('/api/v1/uniques', { schema: routeSchemas.uniques, ...documentOnly }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = q.bucket === undefined || q.bucket === '' ? undefined : parseBucket(q, 'minute');
    return cached(reply, `uniques ${bucket ?? 'none'} ${JSON.stringify(filter)}`, async (p) => {
      const a = await p.read({ kind: 'uniques', filter, bucket });
      return { view: new UniquesView(filter, bucket, a.rows), at: a.at };
    });
  });
}
