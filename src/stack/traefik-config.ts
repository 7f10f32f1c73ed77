// Traefik's static and dynamic (file provider) configuration for Warren, as plain objects.
// The router names, rules and middlewares here are the contract's (CONTRACT.md, "Traefik
// routers"); docker-compose.yml carries the same ones as labels, and test/compose.test.ts
// checks that both agree.
import bcrypt from 'bcryptjs';
import { WarrenError } from '../errors.js';

/** Router name → rule and entrypoint, shared by the file provider and the compose labels. */
export const ROUTES = {
  panel: { rule: 'PathPrefix(`/panel`)', entryPoint: 'web' },
  analytics: { rule: 'Path(`/reporte`) || PathPrefix(`/api`)', entryPoint: 'web' },
  ingest: { rule: 'Path(`/send`) || Path(`/events`) || Path(`/warren.js`)', entryPoint: 'web' },
  dashboard: { rule: 'PathPrefix(`/api`) || PathPrefix(`/dashboard`)', entryPoint: 'traefik' },
} as const;

export type RouterName = keyof typeof ROUTES;

/** Where the web entrypoint sends each router's requests. */
export interface Backends {
  panelUrl: string;
  analyticsUrl: string;
  /** Every ingest instance; Traefik balances over those whose /healthz answers. */
  ingestUrls: string[];
}

export interface TraefikSettings extends Backends {
  /** Address to bind the entrypoints to; '' or 0.0.0.0 means every interface. */
  host: string;
  proxyPort: number;
  apiPort: number;
  /** htpasswd lines (user:hash); when given, the dashboard and API ask for them (401 otherwise). */
  dashboardUsers?: string[];
  /** Requests per second per client IP on the ingest router; 0 or undefined for no limit. */
  rateLimit?: number;
  /**
   * Where Traefik asks whether a read may pass (ingest's GET /auth/read: READ_USER/READ_PASSWORD as
   * basic auth, or a read key as a Bearer token). When set, the panel and analytics routers get the
   * `read-auth` forwardAuth middleware; undefined leaves reads open (loopback only: `warren up`
   * refuses that on a non-loopback HOST).
   */
  readAuthUrl?: string | undefined;
}

/** The middleware name on the panel and analytics routers (compose's labels use the same one). */
export const READ_AUTH_MIDDLEWARE = 'read-auth';

/**
 * Active health checks of every ingest instance (CONTRACT.md: load-balanced, health-checked).
 * Requests go to the instances whose /readyz answers (broker connected), so an instance that lost
 * RabbitMQ leaves the pool while the others keep taking events. When no instance is ready (the
 * broker is away for all of them), Traefik would answer its own plain-text 503; instead the
 * `ingest` failover service sends the request to any live instance (/healthz), which answers the
 * contract's JSON 503 `broker_unavailable` with Retry-After, so clients know to retry.
 * docker-compose.yml's labels cannot declare a failover service; there ingest is checked on
 * /healthz only (INGEST_HEALTH_CHECK).
 */
export const INGEST_READY_CHECK = { path: '/readyz', interval: '1s', timeout: '1s' } as const;
export const INGEST_HEALTH_CHECK = { path: '/healthz', interval: '1s', timeout: '1s' } as const;
/**
 * Traefik resends a request only when no instance took it (connection refused: a dead instance
 * before the health check noticed); once a POST reached an instance it is never sent twice,
 * so a retry cannot publish an event twice.
 */
export const INGEST_RETRY = { attempts: 3, initialInterval: '100ms' } as const;

/** One htpasswd line with a bcrypt hash (Traefik's basicAuth accepts $2a$/$2b$/$2y$). */
export function htpasswd(user: string, password: string): string {
  if (user.includes(':')) {
    throw new WarrenError(
      'config',
      'TRAEFIK_DASHBOARD_USER cannot contain ":" (basic auth ends the user name there); choose a name without one',
    );
  }
  return `${user}:${bcrypt.hashSync(password, 10)}`;
}

function bindAddress(host: string, port: number): string {
  return `${host === '0.0.0.0' || host === '::' ? '' : host}:${port}`;
}

export function renderStatic(
  s: Pick<TraefikSettings, 'host' | 'proxyPort' | 'apiPort'>,
  dynamicFile: string,
) {
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      web: { address: bindAddress(s.host, s.proxyPort) },
      // Named `traefik` so the API and dashboard live here only, through the explicit
      // `dashboard` router (never api.insecure, which would open them without auth).
      traefik: { address: bindAddress(s.host, s.apiPort) },
    },
    api: { dashboard: true },
    ping: { entryPoint: 'traefik' },
    providers: { file: { filename: dynamicFile, watch: true } },
    // Warren's own services log every request; Traefik reports errors only, access log off.
    log: { level: 'ERROR' },
  };
}

type Router = { rule: string; entryPoints: string[]; service: string; middlewares?: string[] };

function router(name: RouterName, service: string, middlewares: string[]): Router {
  const r: Router = { rule: ROUTES[name].rule, entryPoints: [ROUTES[name].entryPoint], service };
  if (middlewares.length) r.middlewares = middlewares;
  return r;
}

const servers = (urls: string[]) => urls.map((url) => ({ url }));

export function renderDynamic(s: TraefikSettings) {
  const middlewares: Record<string, unknown> = {
    'strip-panel': { stripPrefix: { prefixes: ['/panel'] } },
    'ingest-retry': { retry: { ...INGEST_RETRY } },
  };
  const ingestMiddlewares = ['ingest-retry'];
  if (s.rateLimit && s.rateLimit > 0) {
    middlewares['ingest-ratelimit'] = { rateLimit: { average: s.rateLimit, burst: s.rateLimit * 2 } };
    ingestMiddlewares.push('ingest-ratelimit');
  }
  const readMiddlewares: string[] = [];
  if (s.readAuthUrl) {
    // Only the auth server's verdict counts: the client's X-Forwarded-* headers are not trusted.
    middlewares[READ_AUTH_MIDDLEWARE] = {
      forwardAuth: { address: s.readAuthUrl, trustForwardHeader: false },
    };
    readMiddlewares.push(READ_AUTH_MIDDLEWARE);
  }
  const dashboardMiddlewares: string[] = [];
  if (s.dashboardUsers?.length) {
    middlewares['dashboard-auth'] = { basicAuth: { users: s.dashboardUsers } };
    dashboardMiddlewares.push('dashboard-auth');
  }
  if (s.ingestUrls.length === 0) {
    throw new WarrenError(
      'internal',
      'Traefik needs at least one ingest instance URL; start ingest before Traefik',
    );
  }
  return {
    http: {
      routers: {
        panel: router('panel', 'panel', [...readMiddlewares, 'strip-panel']),
        analytics: router('analytics', 'analytics', readMiddlewares),
        ingest: router('ingest', 'ingest', ingestMiddlewares),
        dashboard: router('dashboard', 'api@internal', dashboardMiddlewares),
      },
      middlewares,
      services: {
        panel: { loadBalancer: { servers: servers([s.panelUrl]) } },
        analytics: { loadBalancer: { servers: servers([s.analyticsUrl]) } },
        ingest: { failover: { service: 'ingest-ready', fallback: 'ingest-live' } },
        'ingest-ready': {
          loadBalancer: { servers: servers(s.ingestUrls), healthCheck: { ...INGEST_READY_CHECK } },
        },
        'ingest-live': {
          loadBalancer: { servers: servers(s.ingestUrls), healthCheck: { ...INGEST_HEALTH_CHECK } },
        },
      },
    },
  };
}

export type DynamicConfig = ReturnType<typeof renderDynamic>;
