// The only reader of process.env. Every setting has a documented default and a validator;
// a bad value stops the process at start with one line naming the variable (exit code 2).
// `.env.example` lists the same variables.
import { isIP } from 'node:net';
import { z } from 'zod';
import { WarrenError } from './errors.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const nonNegativeInt = z.coerce.number().int().min(0);
const bool = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'yes'].includes(v));
const name = z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/);

interface Setting<T> {
  env: string;
  default: string | undefined;
  schema: z.ZodType<T>;
  expects: string;
}

function setting<T>(env: string, def: string | undefined, schema: z.ZodType<T>, expects: string): Setting<T> {
  return { env, default: def, schema, expects };
}

const amqpUrls = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^amqps?:\/\/[^\s]+$/)).min(1));

/** `none`, or addresses, CIDRs and proxy-addr's names (loopback, linklocal, uniquelocal). */
const trustedProxies = z.string().refine(
  (v) =>
    v.trim() === 'none' ||
    v.split(',').every((p) => {
      const [ip, bits, more] = p.trim().split('/');
      if (['loopback', 'linklocal', 'uniquelocal'].includes(p.trim())) return true;
      return more === undefined && isIP(ip ?? '') !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits));
    }),
);
const databaseUrl = z.string().regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/);
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/);

/** Every setting Warren reads, with its default and what it expects. */
export const settings = {
  amqpUrls: setting(
    'AMQP_URL',
    'amqp://guest:guest@127.0.0.1:5672',
    amqpUrls,
    'one or more amqp:// URLs, comma-separated',
  ),
  databaseUrl: setting(
    'DATABASE_URL',
    'sqlite:./data/warren.db',
    databaseUrl,
    'sqlite:PATH or postgres://user@host:port/db',
  ),
  logLevel: setting(
    'LOG_LEVEL',
    'info',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'one of fatal, error, warn, info, debug, trace, silent',
  ),
  // Loopback by default: exposing Warren to the network is one deliberate setting (HOST=0.0.0.0).
  host: setting('HOST', '127.0.0.1', z.string().min(1), 'an address to listen on, e.g. 127.0.0.1 or 0.0.0.0'),
  ingestPort: setting('INGEST_PORT', '5046', port, 'a port number (0-65535)'),
  analyticsPort: setting('ANALYTICS_PORT', '5064', port, 'a port number (0-65535)'),
  panelPort: setting('PANEL_PORT', '8080', port, 'a port number (0-65535)'),
  proxyPort: setting('PROXY_PORT', '8000', port, 'a port number (0-65535)'),
  traefikApiPort: setting('TRAEFIK_API_PORT', '8081', port, 'a port number (0-65535)'),
  analyticsUrl: setting('ANALYTICS_URL', 'http://127.0.0.1:5064', httpUrl, 'an http:// URL of analytics'),
  exchange: setting('EXCHANGE', 'eventos_clientes', name, 'an exchange name'),
  queue: setting('QUEUE', 'cola_analiticas', name, 'a queue name'),
  auditQueue: setting('AUDIT_QUEUE', 'cola_auditoria', name, 'a queue name'),
  queueType: setting('QUEUE_TYPE', 'quorum', z.enum(['quorum', 'classic']), 'quorum or classic'),
  deliveryLimit: setting('DELIVERY_LIMIT', '20', positiveInt, 'a whole number of deliveries (>= 1)'),
  prefetch: setting('PREFETCH', '2000', positiveInt, 'a whole number of messages (>= 1)'),
  batchSize: setting('BATCH_SIZE', '500', positiveInt, 'a whole number of messages (>= 1)'),
  batchWaitMs: setting('BATCH_WAIT_MS', '20', nonNegativeInt, 'milliseconds (>= 0)'),
  confirmWindow: setting('CONFIRM_WINDOW', '1000', positiveInt, 'a whole number of messages (>= 1)'),
  publishTimeoutMs: setting('PUBLISH_TIMEOUT_MS', '5000', positiveInt, 'milliseconds (>= 1)'),
  maxPending: setting('INGEST_MAX_PENDING', '20000', positiveInt, 'a whole number of events (>= 1)'),
  bodyLimit: setting('INGEST_BODY_LIMIT', '1048576', positiveInt, 'bytes (>= 1)'),
  apiKeysFile: setting('API_KEYS_FILE', './data/keys.json', z.string().min(1), 'a file path'),
  ingestAuth: setting(
    'INGEST_AUTH',
    'open',
    z.enum(['open', 'keys']),
    'open (anyone may publish) or keys (a Bearer API key from API_KEYS_FILE is required)',
  ),
  readUser: setting('READ_USER', '', z.string().regex(/^[^:]*$/), 'a user name for basic auth (no ":")'),
  readPassword: setting('READ_PASSWORD', '', z.string(), 'a password for basic auth'),
  allowUnauthenticated: setting('ALLOW_UNAUTHENTICATED', 'false', bool, 'true or false'),
  httpHeadersTimeoutMs: setting('HTTP_HEADERS_TIMEOUT_MS', '10000', positiveInt, 'milliseconds (>= 1)'),
  httpRequestTimeoutMs: setting('HTTP_REQUEST_TIMEOUT_MS', '30000', positiveInt, 'milliseconds (>= 1)'),
  // Above Traefik's idle timeout for backend connections (90 s), so Traefik never reuses one we close.
  httpKeepAliveTimeoutMs: setting('HTTP_KEEPALIVE_TIMEOUT_MS', '95000', positiveInt, 'milliseconds (>= 1)'),
  httpMaxRequestsPerSocket: setting(
    'HTTP_MAX_REQUESTS_PER_SOCKET',
    '10000',
    nonNegativeInt,
    'requests per keep-alive connection, 0 for no limit',
  ),
  httpMaxConnections: setting(
    'HTTP_MAX_CONNECTIONS',
    '4096',
    positiveInt,
    'open connections per server (>= 1)',
  ),
  rateLimit: setting('RATE_LIMIT', '0', nonNegativeInt, 'events per second per client, 0 for none'),
  rateBurst: setting('RATE_BURST', '0', nonNegativeInt, 'events, 0 for the same as RATE_LIMIT'),
  traefikBin: setting('TRAEFIK_BIN', '', z.string(), 'the path of a traefik binary'),
  // The unique-users bench stage creates (and drops) a database of its own on this server.
  benchPostgresUrl: setting(
    'BENCH_POSTGRES_URL',
    'postgres://postgres@127.0.0.1:5432/postgres',
    z.string().regex(/^postgres(ql)?:\/\/.+$/),
    'postgres://user@host:port/db (a server where the bench may create databases)',
  ),
  dashboardUser: setting('TRAEFIK_DASHBOARD_USER', '', z.string(), 'a user name for basic auth'),
  dashboardPassword: setting('TRAEFIK_DASHBOARD_PASSWORD', '', z.string(), 'a password for basic auth'),
  mqttPort: setting('MQTT_PORT', '1884', port, 'a port number (0-65535)'),
  stompPort: setting('STOMP_PORT', '61613', port, 'a port number (0-65535)'),
  topicPattern: setting('TOPIC_PATTERN', 'eventos.#', z.string().min(1), 'an AMQP topic pattern'),
  dedupeWindowDays: setting('DEDUPE_WINDOW_DAYS', '7', positiveInt, 'days (>= 1)'),
  minuteRetentionHours: setting('MINUTE_RETENTION_HOURS', '48', positiveInt, 'hours (>= 1)'),
  hourRetentionDays: setting('HOUR_RETENTION_DAYS', '90', positiveInt, 'days (>= 1)'),
  retentionIntervalS: setting('RETENTION_INTERVAL_S', '300', nonNegativeInt, 'seconds, 0 to turn it off'),
  readConcurrency: setting(
    'READ_CONCURRENCY',
    '2',
    positiveInt,
    'a whole number of reports computed at once (>= 1)',
  ),
  readQueue: setting('READ_QUEUE', '32', nonNegativeInt, 'a whole number of waiting reports (>= 0)'),
  // A 24 h report of 10,000 clients takes about 0.4 s to compute, a month of a big store a few
  // seconds: 30 s stops only a read that would hold its slot for good.
  readTimeoutMs: setting(
    'READ_TIMEOUT_MS',
    '30000',
    positiveInt,
    'milliseconds a report may compute, or an export wait for its reader, before it is stopped (>= 1)',
  ),
  exportConcurrency: setting(
    'EXPORT_CONCURRENCY',
    '2',
    positiveInt,
    'a whole number of exports streamed at once (>= 1)',
  ),
  streamMax: setting('STREAM_MAX', '256', positiveInt, 'a whole number of open event streams (>= 1)'),
  streamMaxPerAddress: setting(
    'STREAM_MAX_PER_ADDRESS',
    '16',
    positiveInt,
    'a whole number of open event streams per client address (>= 1)',
  ),
  streamMaxBufferBytes: setting(
    'STREAM_MAX_BUFFER_BYTES',
    '1048576',
    positiveInt,
    'bytes held for one slow stream reader before it is dropped (>= 1)',
  ),
  trustedProxies: setting(
    'TRUSTED_PROXIES',
    'loopback,uniquelocal',
    trustedProxies,
    'addresses or CIDRs whose X-Forwarded-For is believed (comma-separated), or none',
  ),
  auditDir: setting('AUDIT_DIR', './data/audit', z.string().min(1), 'a directory path'),
  auditMaxBytes: setting('AUDIT_MAX_BYTES', '67108864', positiveInt, 'bytes per audit file (>= 1)'),
  audit: setting('AUDIT', 'false', bool, 'true or false'),
  readyTimeoutS: setting('READY_TIMEOUT_S', '60', positiveInt, 'seconds (>= 1)'),
  stackDir: setting('STACK_DIR', './data/stack', z.string().min(1), 'a directory (Traefik config, status)'),
  alertExchange: setting('ALERT_EXCHANGE', 'alertas', name, 'an exchange name'),
  alertQueue: setting('ALERT_QUEUE', 'alertas.webhooks', name, 'a queue name'),
  alertEvalMs: setting(
    'ALERT_EVAL_MS',
    '5000',
    positiveInt,
    'milliseconds between timed alert evaluations (>= 1)',
  ),
  alertRetryBaseMs: setting(
    'ALERT_RETRY_BASE_MS',
    '1000',
    positiveInt,
    'milliseconds before the first webhook retry, doubled on each (>= 1)',
  ),
  alertRetryMaxMs: setting(
    'ALERT_RETRY_MAX_MS',
    '300000',
    positiveInt,
    'milliseconds, the longest wait (>= 1)',
  ),
  alertMaxAttempts: setting(
    'ALERT_MAX_ATTEMPTS',
    '12',
    positiveInt,
    'webhook attempts before the alert is dead-lettered (>= 1)',
  ),
  alertTimeoutMs: setting('ALERT_TIMEOUT_MS', '10000', positiveInt, 'milliseconds per webhook call (>= 1)'),
  proxyRateLimit: setting(
    'PROXY_RATE_LIMIT',
    '0',
    nonNegativeInt,
    'requests per second per client IP at Traefik, 0 for none',
  ),
} as const;

type Settings = typeof settings;
export type Config = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/** Reads and validates every setting; throws WarrenError('config') naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[s.env] === undefined || env[s.env] === '' ? s.default : env[s.env];
    const parsed = s.schema.safeParse(raw ?? '');
    if (!parsed.success) {
      throw new WarrenError('config', `${s.env} must be ${s.expects}; got ${JSON.stringify(raw)}`);
    }
    out[key] = parsed.data;
  }
  return { ...(out as Config), ...overrides };
}

/** Names derived from the configured exchange and queue (CONTRACT.md, RabbitMQ topology). */
export function deadLetterNames(config: Pick<Config, 'exchange' | 'queue'>): { dlx: string; dlq: string } {
  return { dlx: `${config.exchange}.dlx`, dlq: `${config.queue}.dlq` };
}

/** The alert exchange's dead-letter exchange and queue (`alertas.dlx`, `alertas.dlq`). */
export function alertDeadLetterNames(config: Pick<Config, 'alertExchange'>): { dlx: string; dlq: string } {
  return { dlx: `${config.alertExchange}.dlx`, dlq: `${config.alertExchange}.dlq` };
}

/** Whether an address accepts connections from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Something served without authentication, and the variable that would protect it. */
export interface OpenDoor {
  what: string;
  variable: string;
  fix: string;
}

/**
 * Fails closed on exposure: on a non-loopback HOST, anything served without authentication stops
 * the process (WarrenError 'config', exit 2) unless ALLOW_UNAUTHENTICATED=true says it is meant.
 */
export function refuseOpenDoors(config: Pick<Config, 'host' | 'allowUnauthenticated'>, doors: OpenDoor[]) {
  if (isLoopback(config.host) || config.allowUnauthenticated) return;
  const door = doors[0];
  if (!door) return;
  throw new WarrenError(
    'config',
    `HOST=${config.host} exposes ${door.what} without authentication; ${door.fix}, set HOST=127.0.0.1, or set ALLOW_UNAUTHENTICATED=true if that is meant`,
  );
}
