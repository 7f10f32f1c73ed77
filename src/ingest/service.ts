// The ingest service: HTTP app + broker connection + confirmed publisher. build() wires them;
// start() and close() run them (STYLE.md conventions 1 and 7). It stays up while RabbitMQ is
// away (answering 503) and publishes again as soon as the connection is back.

import type { FastifyInstance } from 'fastify';
import type { BrokerConnection, ConfirmedPublisher } from '../broker/index.js';
import { publishingEdge } from '../broker/index.js';
import { type Config, refuseOpenDoors } from '../config.js';
import { applyLimits, listen } from '../http.js';
import type { Logger } from '../log.js';
import { buildApp, type ExtraRoutes } from './app.js';
import { KeyStore, type ReadCredentials } from './auth.js';
import { createMetrics, markInstance } from './metrics.js';
import { RateLimiter } from './ratelimit.js';

export interface Ingest {
  app: FastifyInstance;
  broker: BrokerConnection;
  publisher: ConfirmedPublisher;
  /** Starts connecting to RabbitMQ (in the background; idempotent). start() does it too. */
  connect(): void;
  start(): Promise<number>;
  close(): Promise<void>;
}

export interface IngestOptions {
  /** Routes of other parts served beside the gateway's own (see stack/ingest.ts). */
  routes?: ExtraRoutes;
}

export function build(config: Config, log: Logger, opts: IngestOptions = {}): Ingest {
  // Read at scrape time, after the publisher below exists.
  const metrics = createMetrics(() => publisher.pending);
  if (config.ingestAuth === 'open') refuseOpenGateway(config);
  const keys = new KeyStore(config.apiKeysFile, config.ingestAuth, log.child({ part: 'keys' }));
  const { broker, publisher } = publishingEdge(config, log, {
    name: 'warren-ingest',
    failFast: true,
    maxPending: config.maxPending,
  });
  broker.on('connected', () => metrics.brokerUp.set(1));
  broker.on('disconnected', () => metrics.brokerUp.set(0));

  const app = buildApp({
    log,
    publisher,
    keys,
    readCredentials: readCredentials(config),
    limiter: new RateLimiter(config.rateLimit, config.rateBurst),
    metrics,
    bodyLimit: config.bodyLimit,
    publishTimeoutMs: config.publishTimeoutMs,
    ready: () => broker.connected && publisher.ready,
    routes: opts.routes,
  });

  let connecting = false;
  function connect(): void {
    if (connecting) return;
    connecting = true;
    broker.start();
  }

  return {
    app,
    broker,
    publisher,
    connect,
    async start() {
      connect();
      applyLimits(app.server, config);
      const port = await listen(app, config.host, config.ingestPort, 'INGEST_PORT');
      markInstance(metrics, port);
      announce(config, log, keys.keyed, port);
      return port;
    },
    async close() {
      // Stop taking requests (those in flight finish: they wait for their confirms), then make
      // sure nothing published is left unconfirmed, then close the channel and the connection.
      await app.close();
      const flushed = await publisher.flush(config.publishTimeoutMs);
      if (!flushed) log.warn({ pending: publisher.pending }, 'closing with events still unconfirmed');
      await publisher.close();
      await broker.close();
    },
  };
}

/** On a non-loopback HOST an open gateway stops the process unless ALLOW_UNAUTHENTICATED says so. */
function refuseOpenGateway(config: Config): void {
  refuseOpenDoors(config, [
    { what: 'an open gateway (anyone may publish)', variable: 'INGEST_AUTH', fix: 'set INGEST_AUTH=keys' },
  ]);
}

/** READ_USER / READ_PASSWORD, which GET /auth/read accepts beside read keys (both, or none). */
function readCredentials(config: Config): ReadCredentials | undefined {
  return config.readUser && config.readPassword
    ? { user: config.readUser, password: config.readPassword }
    : undefined;
}

/** The lines that say how this gateway listens: open or keyed, rate-limited or not, and where. */
function announce(config: Config, log: Logger, keyed: boolean, port: number): void {
  if (!keyed) {
    log.info(
      'INGEST_AUTH=open: anyone who reaches this port may publish (set INGEST_AUTH=keys to require API keys)',
    );
  }
  if (config.rateLimit > 0) {
    log.info(
      { rate: config.rateLimit, burst: config.rateBurst || config.rateLimit },
      'per-client rate limit on',
    );
  }
  log.info({ port }, `ingest listening on http://${config.host}:${port} (POST /send, POST /events, /docs)`);
}
