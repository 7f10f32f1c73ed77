// The analytics service: consumer + store + HTTP API. build() wires the parts; start() and
// close() run them (STYLE.md convention 1). It stays up while RabbitMQ or the store is away.
import type { Channel } from 'amqplib';
import type { FastifyInstance } from 'fastify';
import { DeadLetterCensus } from '../audit/deadletters.js';
import { BrokerConnection } from '../broker/connection.js';
import { BatchingConsumer } from '../broker/consumer.js';
import { type Config, deadLetterNames } from '../config.js';
import { describe, WarrenError } from '../errors.js';
import { applyLimits, listen } from '../http.js';
import type { Logger } from '../log.js';
import { controlQueueName, declare } from '../topology.js';
import { buildApi, type QueueStatus } from './api.js';
import { AnalyticsHandler } from './consumer.js';
import { createMetrics } from './metrics.js';
import {
  copiesCounted,
  type DeadLetterLedger,
  reconcile,
  reportHandler,
  scanDeadLetters,
} from './reconcile.js';
import { RetentionRunner } from './retention.js';
import { createStore, reconcileOf, type Store } from './store/index.js';
import type { Filter } from './store/types.js';
import { topicPrefix } from './topic.js';

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
  let store: Store | undefined;
  let storeUp = false;
  let statusChannel: Channel | undefined;
  let closing = false;
  const handler = new AnalyticsHandler(
    () => (storeUp ? store : undefined),
    metrics,
    config.topicPattern,
    log.child({ part: 'consumer' }),
  );

  broker.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    await declare(ch, config, { audit: config.audit });
    await ch.close();
    const status = await conn.createChannel();
    status.on('error', () => undefined);
    status.on('close', () => (statusChannel = undefined));
    statusChannel = status;
  });
  const consumer = new BatchingConsumer(broker, {
    queue: config.queue,
    prefetch: config.prefetch,
    batchSize: config.batchSize,
    batchWaitMs: config.batchWaitMs,
    handler: handler.handle,
    log: log.child({ part: 'consumer' }),
    onHealth: (healthy, err) => {
      storeUp = healthy && store !== undefined;
      metrics.storeUp.set(storeUp ? 1 : 0);
      if (!healthy)
        log.warn(
          { err: describe(err) },
          'the store is failing; holding the batch and retrying (nothing acked)',
        );
      else log.info('the store answers again');
    },
  });
  // Reconcile's accepted side: reporting publishers' reports, applied once each (reconcile.ts).
  const reports = new BatchingConsumer(broker, {
    queue: controlQueueName(config),
    prefetch: 200,
    batchSize: 100,
    batchWaitMs: 20,
    handler: reportHandler(() => (storeUp ? store : undefined), log.child({ part: 'reconcile' })),
    log: log.child({ part: 'reconcile' }),
  });
  broker.on('connected', () => metrics.brokerUp.set(1));
  broker.on('disconnected', () => metrics.brokerUp.set(0));

  async function openStore(): Promise<void> {
    let attempt = 0;
    while (!closing) {
      try {
        const s = createStore(config.databaseUrl);
        await s.migrate();
        store = s;
        storeUp = true;
        metrics.storeUp.set(1);
        log.info({ store: s.kind }, 'store ready');
        return;
      } catch (err) {
        attempt++;
        if (attempt === 1) {
          log.warn(
            { err: describe(err) },
            'the store is not reachable; retrying in the background (check DATABASE_URL)',
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  // Valid (replayable) and invalid dead letters, by a scan of the DLQ (cached; see census).
  const census = new DeadLetterCensus(deadLetterNames(config).dlq, topicPrefix(config.topicPattern));

  async function queueStatus(): Promise<QueueStatus> {
    const { dlq } = deadLetterNames(config);
    const out: QueueStatus = {
      name: config.queue,
      messages: null,
      consumers: null,
      deadLetters: null,
      deadLettersDetail: null,
    };
    const ch = statusChannel;
    if (!ch) return out;
    try {
      const q = await ch.checkQueue(config.queue);
      out.messages = q.messageCount;
      out.consumers = q.consumerCount;
      out.deadLetters = (await ch.checkQueue(dlq)).messageCount;
      metrics.queueMessages.set(out.messages);
      metrics.deadLetters.set(out.deadLetters);
      const conn = broker.connection;
      if (conn) out.deadLettersDetail = await census.kinds(conn, out.deadLetters);
    } catch (err) {
      log.debug({ err: describe(err) }, 'queue status unavailable');
    }
    return out;
  }

  // The DLQ's part of reconcile, scanned again when its depth changed or after a few seconds.
  let deadCache: { depth: number; at: number; ledger: Promise<DeadLetterLedger> } | undefined;
  async function deadLetters(ch: Channel, conn: NonNullable<BrokerConnection['connection']>) {
    const { dlq } = deadLetterNames(config);
    const depth = (await ch.checkQueue(dlq)).messageCount;
    if (depth === 0) return { rows: new Map(), unscanned: 0, tagged: [] };
    if (!deadCache || deadCache.depth !== depth || Date.now() - deadCache.at > 5000) {
      const ledger = scanDeadLetters(conn, dlq, topicPrefix(config.topicPattern), 10_000);
      deadCache = { depth, at: Date.now(), ledger };
      ledger.catch(() => (deadCache = undefined));
    }
    return deadCache.ledger;
  }

  async function reconcileNow(filter: Filter) {
    const s = store;
    const ledger = s && reconcileOf(s);
    const ch = statusChannel;
    const conn = broker.connection;
    if (!ledger) {
      throw new WarrenError('store_unavailable', 'The store is not available yet; retry shortly.', {
        status: 503,
        retryAfterS: 1,
      });
    }
    if (!ch || !conn) {
      // The DLQ and the queues in flight are part of the answer: without RabbitMQ it is not one.
      throw new WarrenError(
        'broker_unavailable',
        'RabbitMQ is not connected; reconcile needs it. Retry shortly.',
        {
          status: 503,
          retryAfterS: 1,
        },
      );
    }
    // In flight first, then the rows: what moves in between makes the answer look more settled
    // than it is only for work that was in flight when it started.
    const main = (await ch.checkQueue(config.queue)).messageCount;
    const control = (await ch.checkQueue(controlQueueName(config))).messageCount;
    const inFlight = { events: main + consumer.held, reports: control + reports.held };
    const dead = await copiesCounted(await deadLetters(ch, conn), (keys) => ledger.countedPubs(keys));
    return reconcile(filter, await ledger.rows(filter), dead, inFlight);
  }

  // Keep the store's health visible even when no batch arrives (readiness).
  let healthTimer: NodeJS.Timeout | undefined;
  function watchStore(): void {
    healthTimer = setInterval(() => {
      if (!store) return;
      store.ping().then(
        () => {
          if (!storeUp) log.info('the store answers again');
          storeUp = true;
          metrics.storeUp.set(1);
        },
        (err) => {
          if (storeUp) log.warn({ err: describe(err) }, 'the store stopped answering');
          storeUp = false;
          metrics.storeUp.set(0);
        },
      );
    }, 2000);
    healthTimer.unref();
  }

  // Dedupe window and rollups, every RETENTION_INTERVAL_S, only while the store answers.
  const retention = new RetentionRunner(
    () => (storeUp ? store : undefined),
    config,
    log.child({ part: 'retention' }),
  );

  const app = buildApi({
    log,
    store: () => store,
    handler,
    metrics,
    queueStatus,
    ready: () => ({ broker: broker.connected && consumer.consuming, store: storeUp }),
    reads: { concurrency: config.readConcurrency, queue: config.readQueue },
    streams: {
      max: config.streamMax,
      maxPerAddress: config.streamMaxPerAddress,
      maxBufferBytes: config.streamMaxBufferBytes,
    },
    trustedProxies: trustedProxies(config.trustedProxies),
    reconcile: reconcileNow,
  });

  return {
    app,
    handler,
    broker,
    async start() {
      applyLimits(app.server, config); // slow clients (src/http.ts)
      const port = await listen(app, config.host, config.analyticsPort, 'ANALYTICS_PORT');
      log.info({ port }, `analytics listening on http://${config.host}:${port}`);
      void openStore();
      broker.start();
      watchStore();
      retention.start();
      return port;
    },
    async close() {
      closing = true;
      if (healthTimer) clearInterval(healthTimer);
      await app.close();
      await consumer.close();
      await reports.close();
      await broker.close();
      await retention.stop();
      await store?.close().catch(() => undefined);
    },
  };
}

/** TRUSTED_PROXIES: a comma-separated list, or `none`. */
function trustedProxies(setting: string): string[] {
  if (setting.trim() === 'none') return [];
  return setting
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
