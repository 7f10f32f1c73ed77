// POST /events and POST /send (CONTRACT.md, "Ingest"): fill, check, authorize, rate-limit, then
// publish and answer 202 only after the broker confirmed every event.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Event } from '../event.js';
import type { IngestDeps } from './deps.js';
import {
  checkIdempotencyKey,
  checkOwnership,
  countByClient,
  type Defaults,
  eventFromSend,
  eventsFromBody,
} from './events.js';
import { eventsRouteSchema, sendRouteSchema } from './openapi.js';

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : undefined;
}

// The default timestamp, formatted once per millisecond rather than once per request, and with
// Date's formatting (toISOString) once per second: within a second only the milliseconds change.
let nowMs = -1;
let nowText = '';
let secondMs = -1;
let secondText = ''; // `2025-04-13T12:00:00.`
export function defaultTimestamp(): string {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    const second = ms - (ms % 1000);
    if (second !== secondMs) {
      secondMs = second;
      secondText = new Date(second).toISOString().slice(0, 20);
    }
    const milli = ms - second;
    nowText = `${secondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }
  return nowText;
}

function defaults(req: FastifyRequest): Defaults {
  const idempotencyKey = header(req, 'idempotency-key');
  checkIdempotencyKey(idempotencyKey);
  return {
    keyCliente: req.cliente,
    headerCliente: header(req, 'x-client-name'),
    idempotencyKey,
    now: defaultTimestamp(),
  };
}

// The schemas document the API (OpenAPI); the checks are event.ts's, which name every bad index
// and field in the contract's error shape. So Fastify's own validation is switched off here.
const documentOnly = { validatorCompiler: () => () => true };

export function registerRoutes(app: FastifyInstance, deps: IngestDeps): void {
  async function accept(events: Event[], d: Defaults) {
    checkOwnership(events, d);
    if (deps.limiter.enabled) deps.limiter.take(countByClient(events));
    // performance.now() and observe(): startTimer's closure merges label objects on every stop.
    const started = performance.now();
    await deps.publisher.publish(events, deps.publishTimeoutMs);
    deps.metrics.confirmSeconds.observe((performance.now() - started) / 1000);
    deps.metrics.accepted.inc(events.length);
    return { accepted: events.length, ids: events.map((e) => e.id!) };
  }

  app.post('/events', { schema: eventsRouteSchema, ...documentOnly }, async (req, reply) => {
    const d = defaults(req);
    const body = await accept(eventsFromBody(req.body, d), d);
    return reply.status(202).send(body);
  });

  app.post('/send', { schema: sendRouteSchema, ...documentOnly }, async (req, reply) => {
    const d = defaults(req);
    const body = await accept([eventFromSend(req.body, d)], d);
    return reply.status(202).send(body);
  });
}
