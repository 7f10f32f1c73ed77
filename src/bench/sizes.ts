import type { UniquesSize } from './uniques.js';

// How much each stage does: the full run (the figures in BENCHMARKS.md) and --quick (under a minute).
export interface Sizes {
  ceilingMessages: number;
  amqpEvents: number;
  amqpClients: number;
  httpBatchEvents: number;
  httpBatchSize: number;
  httpBatchConnections: 16;
  httpSingleSeconds: number;
  httpSingleConnections: number;
  latencySeconds: number;
  queryEvents: number;
  queryClients: number;
  queryTypes: number;
  queryRequests: number;
  memoryBacklog: number;
  ingestInstances: number;
  /** Connections asking uncached 24 h reports in the read-load stage. */
  readsConnections: number;
  /** The unique-users stage (src/bench/uniques.ts). */
  uniques: UniquesSize;
}

export const FULL: Sizes = {
  ceilingMessages: 100_000,
  amqpEvents: 100_000,
  amqpClients: 2,
  httpBatchEvents: 100_000,
  httpBatchSize: 100,
  httpBatchConnections: 16,
  httpSingleSeconds: 15,
  // 32 → 128 connections: 1,760 → 3,298 req/s (2 instances); more only adds latency (BENCHMARKS.md).
  httpSingleConnections: 128,
  latencySeconds: 20,
  queryEvents: 1_000_000,
  queryClients: 10_000,
  queryTypes: 20,
  queryRequests: 25,
  memoryBacklog: 1_000_000,
  // One ingest process: on this 2-core machine a second one costs more than it
  // gives (3,298 → 4,368 req/s at 128 connections with one; BENCHMARKS.md).
  ingestInstances: 1,
  readsConnections: 16,
  // Issue #19's size: 100 clients, 1M users, 90 days. Every user sends once and 500,000 more events
  // go to Zipf-drawn users: 1.5M events, filled and rolled up in about 5 minutes per store here
  // (--uniques-users/--uniques-events change it).
  uniques: {
    events: 1_500_000,
    users: 1_000_000,
    clients: 100,
    types: 5,
    days: 90,
    queries: 42,
    requests: 40,
    amqpEvents: 50_000,
    amqpClients: 2,
    amqpRounds: 3,
  },
};

// --quick: every figure still measured, the whole run under a minute on 2 shared cores (33-47 s at
// load average 6-7, against 58 s with 15,000 AMQP events, 2 s HTTP runs, 3 s latency, 50,000 query
// events and a 30,000 backlog). Timed seconds count several times over: httpSingleSeconds is run
// three times by the proxy ceiling and twice by the HTTP single path, latencySeconds once by the
// latency stage and twice by the read-load stage, amqpEvents three times; the rest is fixed cost
// (children, Traefik, the unique-users stage's two stores).
export const QUICK: Sizes = {
  ...FULL,
  ceilingMessages: 10_000,
  amqpEvents: 10_000,
  httpBatchEvents: 10_000,
  httpSingleSeconds: 1,
  latencySeconds: 2,
  queryEvents: 30_000,
  queryClients: 1_000,
  queryRequests: 8,
  memoryBacklog: 20_000,
  uniques: {
    ...FULL.uniques,
    events: 6_000,
    users: 4_000,
    queries: 14,
    requests: 5,
    amqpEvents: 5_000,
    amqpRounds: 1,
  },
};
