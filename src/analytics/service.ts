// The analytics service: consumer + store + HTTP API. build() wires the parts; start() and
// close() run them (STYLE.md convention 1). It stays up while RabbitMQ or the store is away.
import type { FastifyInstance } from 'fastify';
import { BatchingConsumer, BrokerConnection } from '../broker/index.js';
import type { Config } from '../config.js';
import { applyLimits, listen } from '../http.js';
import type { Logger } from '../log.js';
import { controlQueueName, declare, declareAlerts } from '../topology.js';
import { AlertOutbox } from './alert-outbox.js';
import { AlertEvaluator } from './alerts.js';
import { type ApiDeps, buildApi } from './api.js';
import { AnalyticsHandler } from './consumer.js';
import { createMetrics, type Metrics } from './metrics.js';
import { QueueWatch } from './queue-status.js';
import { reportHandler } from './reconcile.js';
import { Reconciler } from './reconciler.js';
import { RetentionRunner } from './retention.js';
import { StoreHealth } from './store-health.js';

export interface Analytics {
  app: FastifyInstance;
  handler: AnalyticsHandler;
  broker: BrokerConnection;
  start(): Promise<number>;
  close(): Promise<void>;
}

export function build(config: Config, log: Logger): Analytics {
  const metrics = createMetrics();
  const broker = new BrokerConnection({
    urls: config.amqpUrls,
    log: log.child({ part: 'broker' }),
    name: 'warren-analytics',
  });
  const store = new StoreHealth(config, metrics, log);
  const queues = new QueueWatch(config, broker, metrics, log);
  const handler = new AnalyticsHandler(
    store.usable,
    metrics,
    config.topicPattern,
    log.child({ part: 'consumer' }),
  );

  broker.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: config.audit });
    // Before the alert outbox's channel opens (registered later): nothing it publishes is unroutable.
    await declareAlerts(ch, config);
    await ch.close();
    await queues.attach(conn);
  });
  const consumer = consume(config, log, broker, handler, store);
  const { reports, reconciler } = reconcileParts(config, log, broker, store, queues, consumer);
  broker.on('connected', () => metrics.brokerUp.set(1));
  broker.on('disconnected', () => metrics.brokerUp.set(0));

  const alerts = alertParts(config, log, broker, store, queues, handler, metrics);

  // Dedupe window and rollups, every RETENTION_INTERVAL_S, only while the store answers.
  const retention = new RetentionRunner(store.usable, config, log.child({ part: 'retention' }));

  const app = httpApi(config, log, {
    store,
    handler,
    metrics,
    queues,
    brokerReady: () => broker.connected && consumer.consuming,
    reconcile: reconciler.answer,
    alerts: {
      credentials:
        config.readUser && config.readPassword
          ? { user: config.readUser, password: config.readPassword }
          : undefined,
      changed: alerts.evaluator.kick,
    },
  });

  return {
    app,
    handler,
    broker,
    async start() {
      applyLimits(app.server, config); // slow clients (src/http.ts)
      const port = await listen(app, config.host, config.analyticsPort, 'ANALYTICS_PORT');
      log.info({ port }, `analytics listening on http://${config.host}:${port}`);
      void store.open();
      broker.start();
      store.watch();
      retention.start();
      alerts.evaluator.start();
      alerts.outbox.start();
      return port;
    },
    async close() {
      store.stop();
      await app.close();
      await alerts.evaluator.stop();
      await consumer.close();
      await reports.close();
      await alerts.outbox.close();
      await broker.close();
      await retention.stop();
      await store.close();
    },
  };
}

/**
 * Alerts (README "Alerts"): the evaluator, run after every committed batch and on its timer, and
 * the outbox that publishes what it records, confirmed, to ALERT_EXCHANGE.
 */
function alertParts(
  config: Config,
  log: Logger,
  broker: BrokerConnection,
  store: StoreHealth,
  queues: QueueWatch,
  handler: AnalyticsHandler,
  metrics: Metrics,
): { evaluator: AlertEvaluator; outbox: AlertOutbox } {
  const outbox = new AlertOutbox(config, broker, store.usable, log.child({ part: 'alert-outbox' }));
  const evaluator = new AlertEvaluator({
    store: store.usable,
    queueStatus: queues.status,
    evalMs: config.alertEvalMs,
    log: log.child({ part: 'alerts' }),
    recorded: outbox.kick,
    metrics,
  });
  handler.on('batch', evaluator.kick);
  return { evaluator, outbox };
}

/**
 * Reconcile's accepted side: the consumer of reporting publishers' reports (applied once each,
 * reconcile.ts), and the reconciler that answers /api/v1/reconcile from the ledger and the DLQ.
 */
function reconcileParts(
  config: Config,
  log: Logger,
  broker: BrokerConnection,
  store: StoreHealth,
  queues: QueueWatch,
  consumer: BatchingConsumer,
): { reports: BatchingConsumer; reconciler: Reconciler } {
  const reports = new BatchingConsumer(broker, {
    queue: controlQueueName(config),
    prefetch: 200,
    batchSize: 100,
    batchWaitMs: 20,
    handler: reportHandler(store.usable, log.child({ part: 'reconcile' })),
    log: log.child({ part: 'reconcile' }),
  });
  const reconciler = new Reconciler({
    config,
    broker,
    store: store.opened,
    channel: queues.checks,
    consumer,
    reports,
  });
  return { reports, reconciler };
}

/** The batching consumer of cola_analiticas; a batch's commit or failure sets the store's health. */
function consume(
  config: Config,
  log: Logger,
  broker: BrokerConnection,
  handler: AnalyticsHandler,
  store: StoreHealth,
): BatchingConsumer {
  return new BatchingConsumer(broker, {
    queue: config.queue,
    prefetch: config.prefetch,
    batchSize: config.batchSize,
    batchWaitMs: config.batchWaitMs,
    handler: handler.handle,
    log: log.child({ part: 'consumer' }),
    onHealth: store.onBatch,
  });
}

/** The HTTP API over the service's parts, with the settings that shape it. */
function httpApi(
  config: Config,
  log: Logger,
  parts: {
    store: StoreHealth;
    handler: AnalyticsHandler;
    metrics: Metrics;
    queues: QueueWatch;
    brokerReady: () => boolean;
    reconcile: ApiDeps['reconcile'];
    alerts: ApiDeps['alerts'];
  },
): FastifyInstance {
  return buildApi({
    log,
    store: parts.store.opened,
    handler: parts.handler,
    metrics: parts.metrics,
    queueStatus: parts.queues.status,
    ready: () => ({ broker: parts.brokerReady(), store: parts.store.healthy }),
    reads: { concurrency: config.readConcurrency, queue: config.readQueue, timeoutMs: config.readTimeoutMs },
    exports: { concurrency: config.exportConcurrency },
    streams: {
      max: config.streamMax,
      maxPerAddress: config.streamMaxPerAddress,
      maxBufferBytes: config.streamMaxBufferBytes,
    },
    trustedProxies: trustedProxies(config.trustedProxies),
    reconcile: parts.reconcile,
    alerts: parts.alerts,
  });
}

/** TRUSTED_PROXIES: a comma-separated list, or `none`. */
function trustedProxies(setting: string): string[] {
  if (setting.trim() === 'none') return [];
  return setting
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
