// The bench's stages, in the order a run measures them: each says whether it needs the measured
// stack (analytics, ingest and Traefik started by startStack) and fills its part of the results,
// returning the one line that progress shows when it ends.
import { runAmqpPath } from './amqp.js';
import { runCeiling } from './ceiling.js';
import type { BenchEnv } from './env.js';
import { runHttpBatch, runHttpSingle } from './http.js';
import { runLatency } from './latency.js';
import { runMemory } from './memory.js';
import type { Progress } from './progress.js';
import { runProxyCeiling } from './proxy.js';
import { runQueries } from './queries.js';
import { runReads } from './reads.js';
import type { Results } from './report.js';
import type { Sizes } from './sizes.js';
import type { Stage } from './stage.js';
import { runUniques, uniquesLine } from './uniques.js';
import { fmt } from './util.js';

/** The stage names of `--only`, as its help lists them. */
export const STAGES = [
  'ceiling',
  'proxy',
  'amqp',
  'http-batch',
  'http-single',
  'latency',
  'queries',
  'memory',
  'reads',
  'uniques',
] as const;
export type StageName = (typeof STAGES)[number];

export interface StageContext {
  env: BenchEnv;
  progress: Progress;
  sizes: Sizes;
  results: Results;
}

export interface PlannedStage {
  name: StageName;
  /** How progress and the errors of the report name it. */
  title: string;
  run: (ctx: StageContext, stack: () => Stage) => Promise<string>;
  /** Whether it measures the stack that startStack starts (started once, before the first). */
  needsStack?: true;
}

export const PLAN: readonly PlannedStage[] = [
  {
    name: 'ceiling',
    title: 'broker ceiling',
    async run({ env, progress, sizes, results }) {
      results.ceiling = await runCeiling(env, progress, sizes.ceilingMessages);
      return `${fmt(results.ceiling.eps)} ev/s`;
    },
  },
  {
    name: 'proxy',
    title: 'proxy ceiling',
    async run({ env, progress, sizes, results }) {
      results.proxy = await runProxyCeiling(env, progress, sizes.httpSingleSeconds);
      return `${fmt(results.proxy.rps)} req/s`;
    },
  },
  {
    name: 'amqp',
    title: 'AMQP path',
    needsStack: true,
    async run({ sizes, results }, stack) {
      results.amqp = await runAmqpPath(stack(), sizes.amqpEvents, sizes.amqpClients);
      return `${fmt(results.amqp.eps)} ev/s`;
    },
  },
  {
    name: 'http-batch',
    title: 'HTTP batch path',
    needsStack: true,
    async run({ sizes, results }, stack) {
      results.httpBatch = await runHttpBatch(
        stack(),
        sizes.httpBatchEvents,
        sizes.httpBatchSize,
        sizes.httpBatchConnections,
      );
      return `${fmt(results.httpBatch.eps)} ev/s`;
    },
  },
  {
    name: 'http-single',
    title: 'HTTP single path',
    needsStack: true,
    async run({ sizes, results }, stack) {
      const s = stack();
      // One unrecorded second first: the figures (ingest's CPU per request above all) are of the
      // steady state, not of V8 compiling the single-event path while it is measured.
      await runHttpSingle(s, '/events', 1, sizes.httpSingleConnections);
      results.httpSingle = await runHttpSingle(
        s,
        '/events',
        sizes.httpSingleSeconds,
        sizes.httpSingleConnections,
      );
      results.httpSend = await runHttpSingle(
        s,
        '/send',
        sizes.httpSingleSeconds,
        sizes.httpSingleConnections,
      );
      return `/events ${fmt(results.httpSingle.rps)} req/s, /send ${fmt(results.httpSend.rps)} req/s`;
    },
  },
  {
    name: 'latency',
    title: 'latency',
    needsStack: true,
    async run({ sizes, results }, stack) {
      const s = stack();
      const basis = results.amqp?.eps ?? results.ceiling?.eps ?? 2000;
      const rate = Math.max(10, Math.round(basis / 2));
      results.latency = await runLatency(s, rate, sizes.latencySeconds);
      return `p50 ${fmt(results.latency.p50, 1)} ms, p99 ${fmt(results.latency.p99, 1)} ms at ${fmt(rate)} ev/s`;
    },
  },
  {
    name: 'queries',
    title: 'queries',
    async run({ env, progress, sizes, results }) {
      results.queries = await runQueries(env, progress, {
        events: sizes.queryEvents,
        clients: sizes.queryClients,
        types: sizes.queryTypes,
        requests: sizes.queryRequests,
      });
      const q = results.queries;
      return `p95 /reporte ${fmt(q.reporte.p95, 1)}, report ${fmt(q.report.p95, 1)}, timeseries ${fmt(q.timeseries.p95, 1)} ms`;
    },
  },
  {
    name: 'reads',
    title: 'counting under read load',
    async run({ env, progress, sizes, results }) {
      results.reads = await runReads(env, progress, {
        events: sizes.queryEvents,
        clients: sizes.queryClients,
        types: sizes.queryTypes,
        amqpEvents: sizes.amqpEvents,
        amqpClients: sizes.amqpClients,
        latencySeconds: sizes.latencySeconds,
        connections: sizes.readsConnections,
      });
      const x = results.reads;
      return `AMQP path ${fmt(x.loaded.amqpEps)} ev/s (${fmt(x.ratio * 100)}% of ${fmt(x.alone.amqpEps)} alone), latency p99 ${fmt(x.loaded.latencyP99, 1)} ms`;
    },
  },
  {
    name: 'memory',
    title: 'memory',
    async run({ env, progress, sizes, results }) {
      results.memory = await runMemory(env, progress, sizes.memoryBacklog);
      return `peak RSS ${fmt(results.memory.peakRssMb)} MB`;
    },
  },
  {
    name: 'uniques',
    title: 'unique users',
    needsStack: true,
    async run({ env, progress, sizes, results }, stack) {
      results.uniques = await runUniques(env, progress, sizes.uniques, stack);
      return uniquesLine(results.uniques);
    },
  },
];
