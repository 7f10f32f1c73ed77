// The panel reaches analytics over HTTP only (CONTRACT.md: it never talks to RabbitMQ). The page
// calls relative `api/<name>` paths on the panel, so it works behind Traefik's strip-panel
// middleware; these routes forward them to ANALYTICS_URL `/api/v1/<name>`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../errors.js';
import { errorBody } from '../http.js';
import type { Logger } from '../log.js';

/** The analytics endpoints the page reads; nothing else is forwarded. */
const JSON_ROUTES = ['report', 'timeseries', 'uniques', 'status', 'alerts'] as const;
/**
 * Routes an older analytics may not have. Its 404 becomes 200 `{"available": false}`: the page
 * then says "not available" and the rest of the dashboard goes on, with no failed request in the
 * browser's console every few seconds.
 */
const OPTIONAL_ROUTES: ReadonlySet<string> = new Set(['alerts']);
const CONNECT_TIMEOUT_MS = 4000;
/** Analytics pings every 15 s; a silent stream for longer than this is a dead one. */
const STREAM_IDLE_MS = 40_000;

export interface Relay {
  /** Whether analytics answers its /healthz right now. */
  probe(): Promise<boolean>;
  /** Ends every open stream (on shutdown). */
  close(): void;
}

function query(req: FastifyRequest): string {
  const i = req.url.indexOf('?');
  return i < 0 ? '' : req.url.slice(i);
}

/** How often the same outage is logged (every request sees it; one line says it). */
const LOG_EVERY_MS = 10_000;

/**
 * 503 for the page: it names no internal URL, address or socket error (those are for the
 * operator, in the log), only what a person can do.
 */
function unavailable(reply: FastifyReply): FastifyReply {
  return reply
    .status(503)
    .header('retry-after', '2')
    .header('cache-control', 'no-store')
    .send(
      errorBody(
        'analytics_unavailable',
        'The analytics service is not answering right now; the panel retries by itself (the panel log says why; check ANALYTICS_URL).',
      ),
    );
}

/** Logs why analytics could not be reached (at most once per LOG_EVERY_MS). */
function outageLogger(base: string, log: Logger): (err: unknown) => void {
  let last = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < LOG_EVERY_MS) return;
    last = now;
    const cause = (err as { cause?: unknown }).cause;
    log.warn(
      { analytics: base, err: describe(err), ...(cause ? { cause: describe(cause) } : {}) },
      `analytics is not answering at ${base}; start it (\`warren analytics\`) or check ANALYTICS_URL`,
    );
  };
}

/**
 * The viewer's address chain for analytics: what the proxy in front said, then the peer. Analytics
 * believes it only from trusted proxies (TRUSTED_PROXIES), so its per-address stream limit counts
 * each viewer, not the panel as one address.
 */
function forwardedFor(req: FastifyRequest): string {
  const prior = req.headers['x-forwarded-for'];
  const chain = Array.isArray(prior) ? prior.join(', ') : prior;
  const peer = req.socket.remoteAddress ?? '';
  return chain ? `${chain}, ${peer}` : peer;
}

/** GET /api/<name> for each JSON route: analytics' /api/v1/<name>, answered as analytics answered. */
function relayJson(app: FastifyInstance, base: string, logOutage: (err: unknown) => void): void {
  for (const name of JSON_ROUTES) {
    app.get(`/api/${name}`, async (req, reply) => {
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1/${name}${query(req)}`, {
          signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
          headers: { accept: 'application/json', 'x-forwarded-for': forwardedFor(req) },
        });
      } catch (err) {
        logOutage(err);
        return unavailable(reply);
      }
      const body = await res.text();
      if (res.status === 404 && OPTIONAL_ROUTES.has(name)) {
        return reply.header('cache-control', 'no-store').send({ available: false });
      }
      return reply
        .status(res.status)
        .header('cache-control', 'no-store')
        .type(res.headers.get('content-type') ?? 'application/json')
        .send(body);
    });
  }
}

/** GET /api/stream: analytics' event stream, piped while both sides stay; each is in `streams`. */
function relayStream(
  app: FastifyInstance,
  base: string,
  streams: Set<AbortController>,
  logOutage: (err: unknown) => void,
  log: Logger,
): void {
  app.get('/api/stream', async (req, reply) => {
    const ac = new AbortController();
    const connectTimer = setTimeout(() => ac.abort(new Error('no answer in time')), CONNECT_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/stream`, {
        signal: ac.signal,
        headers: { accept: 'text/event-stream', 'x-forwarded-for': forwardedFor(req) },
      });
    } catch (err) {
      logOutage(err);
      return unavailable(reply);
    } finally {
      clearTimeout(connectTimer);
    }
    if (!res.ok || !res.body) {
      ac.abort();
      logOutage(new Error(`its stream answered status ${res.status}`));
      return unavailable(reply);
    }
    reply.hijack();
    // Headers go out only once analytics answered, so the page's EventSource `open` means "live".
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    streams.add(ac);
    req.raw.on('close', () => ac.abort());
    await pipeStream(res.body, reply, ac, log);
    streams.delete(ac);
  });
}

export function installRelay(app: FastifyInstance, analyticsUrl: string, log: Logger): Relay {
  const base = analyticsUrl.replace(/\/+$/, '');
  const streams = new Set<AbortController>();
  const logOutage = outageLogger(base, log);

  relayJson(app, base, logOutage);
  relayStream(app, base, streams, logOutage, log);

  return {
    async probe() {
      try {
        const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1500) });
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
    close() {
      for (const ac of streams) ac.abort();
    },
  };
}

/** Copies the upstream stream to the page; ends it when either side goes away or goes silent. */
async function pipeStream(
  body: ReadableStream<Uint8Array>,
  reply: FastifyReply,
  ac: AbortController,
  log: Logger,
): Promise<void> {
  let idle = setTimeout(() => ac.abort(), STREAM_IDLE_MS);
  try {
    for await (const chunk of body) {
      reply.raw.write(chunk);
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(), STREAM_IDLE_MS);
    }
  } catch (err) {
    if (!ac.signal.aborted) log.debug({ err: describe(err) }, 'analytics stream ended');
  } finally {
    clearTimeout(idle);
    // Ending the response makes the page's EventSource reconnect (and see analytics' state then).
    reply.raw.end();
  }
}
