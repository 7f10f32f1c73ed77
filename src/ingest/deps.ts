// What the ingest app is built from: apart from app.ts so that routes.ts can take it without
// importing the app that registers it (no import cycle).
import type { FastifyInstance } from 'fastify';
import type { Event } from '../event.js';
import type { Logger } from '../log.js';
import type { KeyStore, ReadCredentials } from './auth.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './ratelimit.js';

/** Routes registered on the gateway's app by whoever builds it, outside ingest's own. */
export type ExtraRoutes = ReadonlyArray<(app: FastifyInstance) => void>;

export interface EventPublisher {
  /** Resolves once the broker confirmed every event; rejects with BrokerUnavailableError otherwise. */
  publish(events: Event[], deadlineMs?: number): Promise<void>;
}

export interface IngestDeps {
  log: Logger;
  publisher: EventPublisher;
  keys: KeyStore;
  /** READ_USER / READ_PASSWORD for GET /auth/read (undefined: only read keys are accepted). */
  readCredentials?: ReadCredentials | undefined;
  limiter: RateLimiter;
  metrics: Metrics;
  /** Body limit in bytes (INGEST_BODY_LIMIT). */
  bodyLimit: number;
  /** How long a request waits for confirms (PUBLISH_TIMEOUT_MS). */
  publishTimeoutMs: number;
  /** True while the broker is connected and the publisher has a channel. */
  ready: () => boolean;
  /** Routes of other parts served beside the gateway's own (the stack adds the SDK's snippet). */
  routes?: ExtraRoutes | undefined;
}
