// The analytics HTTP API (CONTRACT.md, "Analytics"): reports, time series, status, export and the
// live stream. Built in-process for tests (inject), listened on by the service.
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { WarrenError } from '../errors.js';
import { clientErrorHandler, installErrorHandlers } from '../http.js';
import type { Logger } from '../log.js';
import type { Filter, Store } from '../store/index.js';
import { type AlertsApiDeps, installAlerts } from './alerts-api.js';
import { type Computed, ResponseCache, type View } from './cache.js';
import type { AnalyticsHandler } from './consumer.js';
import { documentOnly, registerDocs, routeSchemas } from './docs.js';
import { DEFAULT_EXPORTS, installExport } from './export-route.js';
import type { Metrics } from './metrics.js';
import { parseBucket, parseFilter } from './query.js';
import { DEFAULT_READS, type ReadAnswer, type ReadOptions, ReadPool } from './reader.js';
import type { ReconcileAnswer, Status } from './shapes.js';
import { DEFAULT_STREAMS, installStream, type StreamOptions } from './stream.js';
import { installUniques } from './uniques.js';
import { ReporteView, type ReportLayout, ReportView, TimeseriesView } from './views.js';

export interface QueueStatus {
  name: string;
  messages: number | null;
  consumers: number | null;
  deadLetters: number | null;
  /** The dead letters by kind: valid events (replayable) and invalid messages. */
  deadLettersDetail?: { valid: number; invalid: number; unscanned: number } | null;
}

export interface ApiDeps {
  log: Logger;
  store: () => Store | undefined;
  handler: AnalyticsHandler;
  metrics: Metrics;
  queueStatus: () => Promise<QueueStatus>;
  ready: () => { broker: boolean; store: boolean };
  /** READ_CONCURRENCY, READ_QUEUE, READ_TIMEOUT_MS (reader.ts); the defaults when absent. */
  reads?: ReadOptions;
  /** EXPORT_CONCURRENCY (export-route.ts); the default when absent. */
  exports?: { concurrency: number };
  /** STREAM_MAX, STREAM_MAX_PER_ADDRESS, STREAM_MAX_BUFFER_BYTES (stream.ts). */
  streams?: StreamOptions;
  /** GET /api/v1/reconcile (reconcile.ts); 503 when absent. */
  reconcile?: (filter: Filter) => Promise<ReconcileAnswer>;
  /** TRUSTED_PROXIES: whose X-Forwarded-For names the client (Fastify's trustProxy); none when absent. */
  trustedProxies?: string[];
  /** /api/v1/alerts' write access and evaluator (alerts-api.ts); absent: writes from loopback only. */
  alerts?: Omit<AlertsApiDeps, 'store'>;
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

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
    forceCloseConnections: true,
    trustProxy: deps.trustedProxies && deps.trustedProxies.length > 0 ? deps.trustedProxies : false,
  });
  installErrorHandlers(app);
  registerDocs(app);
  // In a plugin, so the routes are added once swagger (registered above) is there to see them.
  app.register(async (scope) => {
    probeRoutes(scope, deps);
    reportRoutes(scope, deps);
    statusRoute(scope, deps);
    installExport(scope, () => storeOrThrow(deps), {
      concurrency: deps.exports?.concurrency ?? DEFAULT_EXPORTS.concurrency,
      stallMs: deps.reads?.timeoutMs ?? DEFAULT_READS.timeoutMs,
    });
    reconcileRoute(scope, deps);
    installAlerts(scope, {
      credentials: undefined,
      changed: () => undefined,
      ...deps.alerts,
      store: deps.store,
    });
    installStream(scope, deps.handler, deps.streams ?? DEFAULT_STREAMS, deps.log.child({ part: 'stream' }));
  });
  return app;
}

/** /healthz, /readyz and /metrics. */
function probeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: routeSchemas.readyz, ...documentOnly }, async (_req, reply) => {
    const r = deps.ready();
    reply.status(r.broker && r.store ? 200 : 503);
    return { status: r.broker && r.store ? 'ready' : 'unavailable', ...r };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}

type Compute = (p: ReadPool) => Promise<Computed>;
type Cached = (reply: FastifyReply, key: string, compute: Compute) => Promise<FastifyReply>;

/**
 * Answers from the report cache (cache.ts): the query is checked first (a bad one is a 400,
 * never cached), then the answer is served while the store has not changed since it was
 * computed, or brought up to date with this process's commits since.
 */
function reportCache(app: FastifyInstance, deps: ApiDeps): Cached {
  // Versions are per store object (a new connection starts its counters again): one cache each,
  // and one read pool each (reader.ts: reports never run on the consumer's thread).
  let cache = new ResponseCache();
  let cacheOf: Store | undefined;
  let unsubscribe: () => void = () => undefined;
  let pool: ReadPool | undefined;
  app.addHook('onClose', async () => {
    unsubscribe();
    await pool?.close();
  });

  return async (reply, key, compute) => {
    const store = storeOrThrow(deps);
    if (store !== cacheOf || !pool) {
      unsubscribe();
      void pool?.close();
      const fresh = new ResponseCache();
      unsubscribe = store.onChange((change) => fresh.onChange(change));
      cache = fresh;
      cacheOf = store;
      pool = new ReadPool(store, deps.reads ?? DEFAULT_READS, deps.log.child({ part: 'reads' }));
    }
    const reads = pool;
    const version = await store.version();
    const r = await cache.get(
      key,
      version,
      () => compute(reads),
      () => store.version(),
    );
    deps.metrics.reportCache.inc({ result: r.result });
    return reply.type('application/json; charset=utf-8').header('x-cache', r.result).send(r.body);
  };
}

/** /reporte, /api/v1/report, /api/v1/timeseries and /api/v1/uniques, answered from the report cache. */
function reportRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const cached = reportCache(app, deps);

  app.get('/reporte', { schema: routeSchemas.reporte, ...documentOnly }, async (_req, reply) =>
    cached(reply, 'reporte', async (p) =>
      viewOf(await p.read({ kind: 'clientTotals' }), (rows) => new ReporteView(rows)),
    ),
  );

  app.get('/api/v1/report', { schema: routeSchemas.report, ...documentOnly }, async (req, reply) => {
    const filter = parseFilter(req.query as Record<string, unknown>);
    return cached(reply, `report ${JSON.stringify(filter)}`, async (p) =>
      viewOf(await p.read({ kind: 'clientReport', filter }), (rows, layout) =>
        layout ? ReportView.restore(filter, rows, layout) : new ReportView(filter, rows),
      ),
    );
  });

  app.get('/api/v1/timeseries', { schema: routeSchemas.timeseries, ...documentOnly }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = parseBucket(q, 'minute');
    return cached(reply, `timeseries ${bucket} ${JSON.stringify(filter)}`, async (p) =>
      viewOf(
        await p.read({ kind: 'timeseries', filter, bucket }),
        (rows) => new TimeseriesView(filter, bucket, rows),
      ),
    );
  });

  installUniques(app, cached);
}

/** /api/v1/status. */
function statusRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/api/v1/status', { schema: routeSchemas.status, ...documentOnly }, async (): Promise<Status> => {
    const q = await deps.queueStatus();
    const s = deps.handler.stats;
    return {
      queue: { name: q.name, messages: q.messages, consumers: q.consumers },
      deadLetters: q.deadLetters,
      deadLettersDetail: q.deadLettersDetail ?? null,
      processed: s.processed,
      duplicates: s.duplicates,
      invalid: s.invalid,
      withoutId: s.withoutId,
      refusedByStore: s.refused,
      eventsPerSecond: deps.handler.rate(),
      lastBatchAt: s.lastBatchAt === undefined ? null : new Date(s.lastBatchAt).toISOString(),
      ready: deps.ready(),
    };
  });
}

/** A view of rows read at a known version (reader.ts), for the cache. */
function viewOf<T>(a: ReadAnswer<T>, make: (rows: T, layout?: ReportLayout) => View): Computed {
  return { view: make(a.rows, a.layout), at: a.at };
}

/** /api/v1/reconcile: the ledger per (cliente, minute) and its verdict (reconcile.ts). */
function reconcileRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/api/v1/reconcile', { schema: routeSchemas.reconcile, ...documentOnly }, async (req) => {
    const q = req.query as Record<string, unknown>;
    if (q.evento !== undefined) {
      throw new WarrenError(
        'invalid_query',
        'Reconcile is per client and minute: it takes from, to and cliente, not evento.',
        {
          status: 400,
          details: [{ field: 'evento', rule: 'not accepted here', value: String(q.evento).slice(0, 80) }],
        },
      );
    }
    const filter = parseFilter(q);
    // Without a store (not opened yet) or without a ledger (an API built without one): no answer.
    if (!deps.reconcile || !deps.store()) {
      throw new WarrenError('store_unavailable', 'The store is not available yet; retry shortly.', {
        status: 503,
        retryAfterS: 1,
      });
    }
    return deps.reconcile(filter);
  });
}
