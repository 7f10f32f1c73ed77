// The ingest gateway's HTTP app (CONTRACT.md, "Ingest"), built without listening so tests can
// drive it with fastify.inject. service.ts wires it to the broker and a port.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { installErrorHandlers } from '../http.js';
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

function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      metrics.rejections.inc({ code: ERROR_CODE_RE.exec(payload)?.[1] ?? 'unknown' });
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
  });
}

export function buildApp(deps: IngestDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit,
    // Shutdown lets requests in flight finish (they wait for confirms); idle keep-alives are closed.
    forceCloseConnections: 'idle',
  });
  installErrorHandlers(app);
  installMetrics(app, deps.metrics);
  // Node closes only the keep-alive connections idle when close() begins; one that finishes its
  // request later would hold shutdown for keepAliveTimeout. Ask clients to reconnect instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
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
    scope.addHook('onRequest', async (req) => {
      req.cliente = deps.keys.authenticate(req.headers.authorization);
    });
    registerRoutes(scope, deps);
  });
  return app;
}
