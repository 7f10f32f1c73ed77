// The analytics HTTP API (CONTRACT.md, "Analytics"): reports, time series, status, export and the
// live stream. Built in-process for tests (inject), listened on by the service.
import { Readable } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { WarrenError } from '../errors.js';
import { installErrorHandlers } from '../http.js';
import type { Logger } from '../log.js';
import { ResponseCache } from './cache.js';
import type { AnalyticsHandler, BatchCommitted } from './consumer.js';
import { formatExport } from './export-format.js';
import type { Metrics } from './metrics.js';
import { iso, parseBucket, parseFilter } from './query.js';
import type { CountRow, Store } from './store/types.js';

export interface QueueStatus {
  name: string;
  messages: number | null;
  consumers: number | null;
  deadLetters: number | null;
}

export interface ApiDeps {
  log: Logger;
  store: () => Store | undefined;
  handler: AnalyticsHandler;
  metrics: Metrics;
  queueStatus: () => Promise<QueueStatus>;
  ready: () => { broker: boolean; store: boolean };
}

function storeOrThrow(deps: ApiDeps): Store {
  const s = deps.store();
  if (!s) {
    throw new WarrenError('store_unavailable', 'The store is not available yet; retry shortly.', {
      status: 503,
      retryAfterS: 1,
    });
  }
  return s;
}

/** Groups rows per client, largest first, with event counts largest first. */
export function byClient(rows: CountRow[]): {
  total: number;
  clientes: { cliente: string; total: number; eventos: Record<string, number> }[];
} {
  const map = new Map<string, { cliente: string; total: number; eventos: [string, number][] }>();
  let total = 0;
  for (const r of rows) {
    const n = Number(r.count);
    if (n === 0) continue;
    total += n;
    let c = map.get(r.cliente);
    if (!c) {
      c = { cliente: r.cliente, total: 0, eventos: [] };
      map.set(r.cliente, c);
    }
    c.total += n;
    c.eventos.push([r.evento, n]);
  }
  const clientes = [...map.values()]
    .sort((a, b) => b.total - a.total || (a.cliente < b.cliente ? -1 : 1))
    .map((c) => ({
      cliente: c.cliente,
      total: c.total,
      eventos: Object.fromEntries(c.eventos.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    }));
  return { total, clientes };
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  // Versions are per store object (a new connection starts its counters again): one cache each.
  let cache = new ResponseCache();
  let cacheOf: Store | undefined;
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  installErrorHandlers(app);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = deps.ready();
    reply.status(r.broker && r.store ? 200 : 503);
    return { status: r.broker && r.store ? 'ready' : 'unavailable', ...r };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  /**
   * Answers from the report cache (cache.ts): the query is checked first (a bad one is a 400,
   * never cached), then the body is served while the store has not changed since it was computed.
   */
  async function cached(reply: FastifyReply, key: string, compute: (s: Store) => Promise<unknown>) {
    const store = storeOrThrow(deps);
    if (store !== cacheOf) {
      cache = new ResponseCache();
      cacheOf = store;
    }
    const version = await store.version();
    const r = await cache.get(key, version, async () => JSON.stringify(await compute(store)));
    deps.metrics.reportCache.inc({ result: r.hit ? 'hit' : 'miss' });
    return reply
      .type('application/json; charset=utf-8')
      .header('x-cache', r.hit ? 'hit' : 'miss')
      .send(r.body);
  }

  app.get('/reporte', async (_req, reply) =>
    cached(reply, 'reporte', async (store) => {
      const rows = await store.clientTotals();
      let total = 0;
      const clientes: Record<string, number> = {};
      for (const r of rows) {
        const n = Number(r.count);
        if (n === 0) continue;
        total += n;
        clientes[r.cliente] = n;
      }
      return { total, clientes };
    }),
  );

  app.get('/api/v1/report', async (req, reply) => {
    const filter = parseFilter(req.query as Record<string, unknown>);
    return cached(reply, `report ${JSON.stringify(filter)}`, async (store) => {
      const { total, clientes } = byClient(await store.report(filter));
      return { from: iso(filter.from), to: iso(filter.to), total, clientes };
    });
  });

  app.get('/api/v1/timeseries', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = parseBucket(q, 'minute');
    return cached(reply, `timeseries ${bucket} ${JSON.stringify(filter)}`, async (store) => {
      const points = await store.timeseries(filter, bucket);
      return {
        bucket,
        from: iso(filter.from),
        to: iso(filter.to),
        points: points.map((p) => ({ t: iso(Number(p.t)), count: Number(p.count) })),
      };
    });
  });

  app.get('/api/v1/status', async () => {
    const q = await deps.queueStatus();
    const s = deps.handler.stats;
    return {
      queue: { name: q.name, messages: q.messages, consumers: q.consumers },
      deadLetters: q.deadLetters,
      processed: s.processed,
      duplicates: s.duplicates,
      invalid: s.invalid,
      withoutId: s.withoutId,
      eventsPerSecond: deps.handler.rate(),
      lastBatchAt: s.lastBatchAt === undefined ? null : new Date(s.lastBatchAt).toISOString(),
      ready: deps.ready(),
    };
  });

  app.get('/api/v1/export', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = parseBucket(q, 'minute');
    const format = (q.format as string | undefined) ?? 'ndjson';
    if (format !== 'ndjson' && format !== 'csv') {
      throw new WarrenError('invalid_query', 'The query parameter "format" must be ndjson or csv.', {
        status: 400,
        details: [{ field: 'format', rule: 'ndjson or csv', value: String(format).slice(0, 80) }],
      });
    }
    const rows = storeOrThrow(deps).exportRows(filter, bucket);
    reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    return reply.send(Readable.from(formatExport(rows, format)));
  });

  app.get('/api/v1/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    const send = (b: BatchCommitted) => res.write(`event: batch\ndata: ${JSON.stringify(b)}\n\n`);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    deps.handler.on('batch', send);
    req.raw.on('close', () => {
      clearInterval(ping);
      deps.handler.off('batch', send);
    });
  });

  return app;
}
