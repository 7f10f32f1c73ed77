// GET|POST|DELETE /api/v1/alerts (README "Alerts"). Reads are served like every other read (behind
// Traefik's read-auth when READ_USER/READ_PASSWORD are set). Writes fail closed: with credentials
// configured they need them (basic auth, checked here too, so the direct port is no way around);
// without any, only a request from this machine may change rules (the client address, after
// TRUSTED_PROXIES' X-Forwarded-For, so a request through a local Traefik is not "local").
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newRule, publicRule, ruleInputSchema, ruleProblems } from '../alert-rule.js';
import { isLoopback } from '../config.js';
import { WarrenError } from '../errors.js';
import { alertsOf, type Firing, publicFiring, type Store } from '../store/index.js';
import { documentOnly, routeSchemas } from './docs.js';
import type { AlertCreated, AlertFiringAnswer, AlertsAnswer } from './shapes.js';

export interface AlertsApiDeps {
  store: () => Store | undefined;
  /** READ_USER / READ_PASSWORD; undefined when reads are open (then writes are local only). */
  credentials: { user: string; password: string } | undefined;
  /** A rule was added: evaluate soon. */
  changed: () => void;
  now?: () => number;
}

const MAX_LIMIT = 1000;

function alertsOrThrow(deps: AlertsApiDeps) {
  const s = deps.store();
  const a = s && alertsOf(s);
  if (!a) {
    throw new WarrenError('store_unavailable', 'The store is not available yet; retry shortly.', {
      status: 503,
      retryAfterS: 1,
    });
  }
  return a;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether the Authorization header carries exactly these basic-auth credentials (constant time). */
function basicMatches(header: string | undefined, c: { user: string; password: string }): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1], 'base64').toString('utf8');
  return timingSafeEqual(digest(given), digest(`${c.user}:${c.password}`));
}

function checkWrite(req: FastifyRequest, deps: AlertsApiDeps): void {
  const c = deps.credentials;
  if (c) {
    if (basicMatches(req.headers.authorization, c)) return;
    throw new WarrenError(
      'unauthorized',
      'Changing alert rules needs READ_USER/READ_PASSWORD as basic auth (Authorization: Basic …).',
      { status: 401 },
    );
  }
  const ip = req.ip.replace(/^::ffff:/, '');
  if (isLoopback(ip)) return;
  throw new WarrenError(
    'forbidden',
    'Without READ_USER/READ_PASSWORD, alert rules can be changed only from this machine; set them to change rules from elsewhere, or use `warren alerts` here.',
    { status: 403 },
  );
}

function parseLimit(q: Record<string, unknown>): number {
  if (q.limit === undefined) return 100;
  const n = Number(q.limit);
  if (!/^\d+$/.test(String(q.limit)) || n < 1 || n > MAX_LIMIT) {
    throw new WarrenError(
      'invalid_query',
      `The query parameter "limit" must be a whole number from 1 to ${MAX_LIMIT}.`,
      {
        status: 400,
        details: [{ field: 'limit', rule: `1-${MAX_LIMIT}`, value: String(q.limit).slice(0, 80) }],
      },
    );
  }
  return n;
}

export function firingAnswer(f: Firing): AlertFiringAnswer {
  return publicFiring(f);
}

export function installAlerts(app: FastifyInstance, deps: AlertsApiDeps): void {
  const now = deps.now ?? Date.now;
  app.get(
    '/api/v1/alerts',
    { schema: routeSchemas.alerts, ...documentOnly },
    async (req): Promise<AlertsAnswer> => {
      const limit = parseLimit(req.query as Record<string, unknown>);
      const a = alertsOrThrow(deps);
      const [rules, firings] = await Promise.all([a.rules(), a.firings(limit)]);
      return { rules: rules.map(publicRule), firings: firings.map(firingAnswer) };
    },
  );

  app.post('/api/v1/alerts', { schema: routeSchemas.alertAdd, ...documentOnly }, async (req, reply) => {
    checkWrite(req, deps);
    const parsed = ruleInputSchema.safeParse(req.body);
    if (!parsed.success) {
      throw new WarrenError('bad_request', 'The rule is not valid: details name each bad field.', {
        status: 400,
        details: ruleProblems(parsed.error),
      });
    }
    const a = alertsOrThrow(deps);
    const rule = newRule(parsed.data, now());
    await a.addRule(rule);
    deps.changed();
    const answer: AlertCreated = { rule: publicRule(rule), secret: rule.secret };
    return reply.status(201).send(answer);
  });

  // CONTRACT.md names `DELETE /api/v1/alerts`: the id goes in the path or as `?id=`.
  const remove = async (req: FastifyRequest, reply: FastifyReply, id: string | undefined) => {
    checkWrite(req, deps);
    if (!id)
      throw new WarrenError('bad_request', 'Name the rule: DELETE /api/v1/alerts/ID or ?id=ID.', {
        status: 400,
      });
    if (!(await alertsOrThrow(deps).removeRule(id, now()))) {
      throw new WarrenError('not_found', `There is no alert rule ${JSON.stringify(id.slice(0, 100))}.`, {
        status: 404,
      });
    }
    return reply.status(204).send();
  };
  app.delete('/api/v1/alerts/:id', { schema: routeSchemas.alertRemove, ...documentOnly }, (req, reply) =>
    remove(req, reply, (req.params as { id: string }).id),
  );
  app.delete('/api/v1/alerts', { schema: routeSchemas.alertRemove, ...documentOnly }, (req, reply) => {
    const id = (req.query as { id?: unknown }).id;
    return remove(req, reply, typeof id === 'string' ? id : undefined);
  });
}
