// The ingest gateway's HTTP app (CONTRACT.md, "Ingest"), built without listening so tests can
// drive it with fastify.inject. service.ts wires it to the broker and a port.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { clientErrorHandler, installErrorHandlers } from '../http.js';
import { installJsonParser } from './body.js';
import type { IngestDeps } from './deps.js';
import type { Metrics } from './metrics.js';
import { registerDocs } from './openapi.js';
import { registerRoutes } from './routes.js';

export type { EventPublisher, ExtraRoutes, IngestDeps } from './deps.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client of the request's API key (keyed mode only). */
    cliente: string | undefined;
  }
}

const ERROR_CODE_RE = /^\{"error":"([a-z_]+)"/;

/**
 * Per-request metrics and the shutdown header in one onSend and one onResponse hook, both in
 * callback style: on the single-event path every hook is paid per request, and an async hook
 * costs a promise and a microtask each (BENCHMARKS.md, optimisation table).
 */
function installMetrics(app: FastifyInstance, metrics: Metrics, closing: () => boolean): void {
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      metrics.rejections.inc({ code: ERROR_CODE_RE.exec(payload)?.[1] ?? 'unknown' });
    }
    if (closing()) reply.header('connection', 'close');
    done(null, payload);
  });
  // prom-client hashes a label set on every inc(); the few (route, method, status) triples seen
  // keep their child counter instead.
  const children = new Map<string, { inc(): void }>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    const key = `${route} ${req.method} ${status}`;
    let child = children.get(key);
    if (!child) {
      // Bounded: routes are ours (any other path is "unmatched"), methods Node's, statuses ours.
      child = metrics.requests.labels({ route, method: req.method, status });
      children.set(key, child);
    }
    child.inc();
    done();
  });
}

export function buildApp(deps: IngestDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
    bodyLimit: deps.bodyLimit,
    // Shutdown lets requests in flight finish (they wait for confirms); idle keep-alives are closed.
    forceCloseConnections: 'idle',
    // Requests are not logged (disableRequestLogging), so a child logger per request (Fastify's
    // default, binding a request id) is an allocation per request for nothing: errors are logged
    // on the part's logger.
    childLoggerFactory: (logger) => logger,
  });
  installErrorHandlers(app);
  // Node closes only the keep-alive connections idle when close() begins; one that finishes its
  // request later would hold shutdown for keepAliveTimeout. Ask clients to reconnect instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  installMetrics(app, deps.metrics, () => closing);
  app.decorateRequest('cliente', undefined);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = deps.ready();
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'unavailable', broker: ready };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  // Traefik's forwardAuth asks here before a read (panel, /reporte, /api): 2xx lets it through,
  // anything else is answered to the client as is (so a browser sees the basic-auth challenge).
  app.get('/auth/read', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      const who = deps.keys.authorizeRead(req.headers.authorization, deps.readCredentials);
      return reply.status(204).header('x-warren-reader', who).send();
    } catch (err) {
      if ((err as { status?: number }).status === 401)
        reply.header('www-authenticate', 'Basic realm="warren"');
      throw err;
    }
  });

  registerDocs(app, () => deps.keys.keyed);
  for (const register of deps.routes ?? []) register(app);
  // The publishing routes in a scope of their own: only they need a key and a JSON body.
  app.register(async (scope) => {
    installJsonParser(scope, deps.bodyLimit);
    scope.addHook('onRequest', (req, _reply, done) => {
      try {
        req.cliente = deps.keys.authenticate(req.headers.authorization);
      } catch (err) {
        done(err as Error);
        return;
      }
      done();
    });
    registerRoutes(scope, deps);
  });
  return app;
}
