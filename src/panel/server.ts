// The panel (the seed's panel-visual): serves the dashboard page and relays the analytics API it
// reads. It knows analytics only by ANALYTICS_URL (STYLE.md: parts do not import each other).
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { Config } from '../config.js';
import { applyLimits, clientErrorHandler, installErrorHandlers, listen } from '../http.js';
import type { Logger } from '../log.js';
import { type Asset, baseHref, defaultAssetsDir, indexFor, loadAssets } from './assets.js';
import { installRelay } from './relay.js';

export interface Panel {
  app: FastifyInstance;
  start(): Promise<number>;
  close(): Promise<void>;
}

export interface PanelOptions {
  /** The built page (default: src/panel/web/dist). */
  assetsDir?: string;
}

// Everything the page loads comes from the panel itself (no CDN, no web fonts).
const CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  // uPlot positions its cursor and legend with inline styles.
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

function send(reply: FastifyReply, a: Asset, acceptEncoding: string | undefined, ifNoneMatch?: string) {
  reply
    .header('content-type', a.type)
    .header('etag', a.etag)
    // Revalidate every time: the files are small, and a rebuilt page must show up at once.
    .header('cache-control', 'no-cache')
    .header('vary', 'accept-encoding, x-forwarded-prefix')
    .header('x-content-type-options', 'nosniff');
  if (ifNoneMatch === a.etag) return reply.status(304).send();
  if (a.gzip && /\bgzip\b/.test(acceptEncoding ?? '')) {
    return reply.header('content-encoding', 'gzip').send(a.gzip);
  }
  return reply.send(a.body);
}

export function build(config: Config, log: Logger, opts: PanelOptions = {}): Panel {
  const dir = opts.assetsDir ?? defaultAssetsDir();
  let assets: Map<string, Asset> | undefined;
  let missing: unknown;
  try {
    assets = loadAssets(dir);
  } catch (err) {
    missing = err;
  }
  const indexCache = new Map<string, Asset>();
  const app = Fastify({
    loggerInstance: log.child({ part: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
    // Open event streams must not hold shutdown.
    forceCloseConnections: true,
  });
  installErrorHandlers(app);
  const relay = installRelay(app, config.analyticsUrl, log.child({ part: 'relay' }));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const analytics = await relay.probe();
    reply.status(assets ? 200 : 503);
    return { status: assets ? 'ready' : 'unavailable', page: Boolean(assets), analytics };
  });

  app.get('/', async (req, reply) => {
    const template = assets?.get('index.html');
    if (!template) return reply.callNotFound();
    const page = indexFor(template, baseHref(req.headers['x-forwarded-prefix']), indexCache);
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
    return send(reply, page, req.headers['accept-encoding'], req.headers['if-none-match']);
  });

  app.get<{ Params: { file: string } }>('/:file', async (req, reply) => {
    const a = req.params.file === 'index.html' ? undefined : assets?.get(req.params.file);
    if (!a) return reply.callNotFound();
    return send(reply, a, req.headers['accept-encoding'], req.headers['if-none-match']);
  });

  return {
    app,
    async start() {
      if (!assets) throw missing;
      applyLimits(app.server, config);
      const port = await listen(app, config.host, config.panelPort, 'PANEL_PORT');
      log.info(
        { port, analytics: config.analyticsUrl },
        `panel listening on http://${config.host}:${port}/ (reads ${config.analyticsUrl})`,
      );
      return port;
    },
    async close() {
      relay.close();
      await app.close();
    },
  };
}
