// How much each stage does: the full run (the figures in BENCHMARKS.md) and --quick (under a minute).
export interface Sizes {
  ceilingMessages: number;
  amqpEvents: number;
  amqpClients: number;
  httpBatchEvents: number;
  httpBatchSize: number;
  httpBatchConnections: number;
  httpSingleSeconds: number;
  httpSingleConnections: number;
  latencySeconds: number;
  queryEvents: number;
  queryClients: number;
  queryTypes: number;
  queryRequests: number;
  memoryBacklog: number;
  ingestInstances: number;
}

export const FULL: Sizes = {
  ceilingMessages: 100_000,
  amqpEvents: 100_000,
  amqpClients: 2,
  httpBatchEvents: 100_000,
  httpBatchSize: 100,
  httpBatchConnections: 16,
  httpSingleSeconds: 15,
  httpSingleConnections: 32,
  latencySeconds: 20,
  queryEvents: 1_000_000,
  queryClients: 10_000,
  queryTypes: 20,
  queryRequests: 25,
  memoryBacklog: 1_000_000,
  ingestInstances: 2,
};

export const QUICK: Sizes = {
  ...FULL,
  ceilingMessages: 15_000,
  amqpEvents: 15_000,
  httpBatchEvents: 10_000,
  httpSingleSeconds: 2,
  latencySeconds: 3,
  queryEvents: 50_000,
  queryClients: 1_000,
  queryRequests: 8,
  memoryBacklog: 30_000,
};
