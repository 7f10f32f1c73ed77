// `warren bench`: measures, in one run against the configured broker, the broker's own ceiling,
// the proxy's (Traefik in front of a backend that does nothing), the AMQP path, the HTTP batch and single-event paths through Traefik, end-to-end latency,
// query times over a big store and analytics' memory under a backlog (CONTRACT.md, "Benchmark").
// Everything it starts is its own: child processes on free ports, queues and exchanges named
// warren_bench_<id>.*, SQLite files in a temp directory; all removed at the end.
import { writeFileSync } from 'node:fs';
import { type CommandSpec, UsageError } from '../cli.js';
import { describe } from '../errors.js';
import { runAmqpPath } from './amqp.js';
import { runCeiling } from './ceiling.js';
import { BenchEnv } from './env.js';
import { runHttpBatch, runHttpSingle } from './http.js';
import { runLatency } from './latency.js';
import { machine } from './machine.js';
import { runMemory } from './memory.js';
import { Progress } from './progress.js';
import { runProxyCeiling } from './proxy.js';
import { runQueries } from './queries.js';
import { runReads } from './reads.js';
import { type Results, table, toJson } from './report.js';
import { FULL, QUICK, type Sizes } from './sizes.js';
import { type Stage, startStack } from './stage.js';
import { fmt } from './util.js';

const STAGES = [
  'ceiling',
  'proxy',
  'amqp',
  'http-batch',
  'http-single',
  'latency',
  'queries',
  'memory',
  'reads',
] as const;
type StageName = (typeof STAGES)[number];
const NEEDS_STACK: StageName[] = ['amqp', 'http-batch', 'http-single', 'latency'];

function parseOnly(v: unknown): StageName[] {
  if (v === undefined) return [...STAGES];
  const list = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of list) {
    if (!(STAGES as readonly string[]).includes(s))
      throw new UsageError(`--only: unknown stage "${s}"; stages: ${STAGES.join(', ')}`);
  }
  return STAGES.filter((s) => list.includes(s));
}

/** `--flag N` as a size override; N must be a whole number from 1 to 1,000. */
function positive(v: unknown, flag: string, key: keyof Sizes): Partial<Sizes> {
  if (v === undefined) return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new UsageError(`${flag}: expected a whole number from 1 to 1000, got "${v}"`);
  return { [key]: n };
}

export const command: CommandSpec = {
  summary:
    'measure the broker ceiling, the AMQP and HTTP paths, latency, queries, memory and counting under read load',
  usage:
    'warren bench [--quick] [--json FILE] [--only ceiling,amqp,...] [--ingest N] [--connections N] [--profile DIR] [--keep]',
  options: {
    quick: { type: 'boolean' },
    ingest: { type: 'string' },
    connections: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    keep: { type: 'boolean' },
  },
  help: {
    quick: 'reduced sizes: the whole run in under a minute',
    json: 'write every figure to FILE as JSON',
    only: `run only these stages (comma-separated): ${STAGES.join(', ')}`,
    ingest: `ingest instances behind Traefik (default ${FULL.ingestInstances})`,
    connections: `keep-alive connections of the HTTP single path (default ${FULL.httpSingleConnections})`,
    profile: 'write V8 CPU profiles of analytics and ingest (node --cpu-prof) into DIR',
    keep: "keep the run's directory (children's logs, SQLite files) instead of deleting it",
  },
  async run({ config, log, values, stopSignal }) {
    const only = parseOnly(values.only);
    const quick = values.quick === true;
    const sizes = {
      ...(quick ? QUICK : FULL),
      ...positive(values.ingest, '--ingest', 'ingestInstances'),
      ...positive(values.connections, '--connections', 'httpSingleConnections'),
    };
    const jsonFile = values.json as string | undefined;
    const profileDir = values.profile as string | undefined;
    const started = performance.now();
    const results: Results = {
      quick,
      startedAt: new Date(),
      seconds: 0,
      sizes,
      machine: undefined,
      errors: [],
    };
    const env = new BenchEnv(config, log);
    const progress = new Progress(only.length);
    let interrupted: NodeJS.Signals | undefined;
    const cancel = stopSignal.then((sig) => {
      interrupted = sig;
      throw new Error(`interrupted by ${sig}`);
    });
    cancel.catch(() => undefined);

    async function step(name: string, fn: () => Promise<string>): Promise<void> {
      if (interrupted) {
        results.errors.push({ stage: name, message: `skipped: interrupted by ${interrupted}` });
        return;
      }
      progress.start(name);
      try {
        progress.end(await Promise.race([fn(), cancel]));
      } catch (err) {
        const message = describe(err);
        results.errors.push({ stage: name, message });
        progress.end(`FAILED: ${message}`);
      }
    }

    try {
      results.machine = await machine(config.amqpUrls[0]!);
    } catch (err) {
      process.stderr.write(
        `warren bench: RabbitMQ is not reachable at AMQP_URL (${describe(err)}); start it (e.g. \`rabbitmq-server -detached\`) or set AMQP_URL\n`,
      );
      env.cleanup().catch(() => undefined);
      return 1;
    }
    progress.note(`warren bench${quick ? ' --quick' : ''}: queues ${env.id}.*, files in ${env.dir}`);
    try {
      if (only.includes('ceiling')) {
        await step('broker ceiling', async () => {
          results.ceiling = await runCeiling(env, progress, sizes.ceilingMessages);
          return `${fmt(results.ceiling.eps)} ev/s`;
        });
      }
      if (only.includes('proxy')) {
        await step('proxy ceiling', async () => {
          results.proxy = await runProxyCeiling(
            env,
            progress,
            sizes.httpSingleSeconds,
            sizes.httpSingleConnections,
          );
          return `${fmt(results.proxy.rps)} req/s`;
        });
      }
      let stack: Stage | undefined;
      let stackError: unknown;
      if (only.some((s) => NEEDS_STACK.includes(s))) {
        try {
          stack = await Promise.race([
            startStack(env, progress, { ingestInstances: sizes.ingestInstances, profileDir }),
            cancel,
          ]);
        } catch (err) {
          stackError = err;
        }
      }
      const withStack = (fn: (s: Stage) => Promise<string>) => async () => {
        if (!stack) throw new Error(`the measured stack did not start: ${describe(stackError)}`);
        return fn(stack);
      };
      if (only.includes('amqp')) {
        await step(
          'AMQP path',
          withStack(async (s) => {
            results.amqp = await runAmqpPath(s, sizes.amqpEvents, sizes.amqpClients);
            return `${fmt(results.amqp.eps)} ev/s`;
          }),
        );
      }
      if (only.includes('http-batch')) {
        await step(
          'HTTP batch path',
          withStack(async (s) => {
            results.httpBatch = await runHttpBatch(
              s,
              sizes.httpBatchEvents,
              sizes.httpBatchSize,
              sizes.httpBatchConnections,
            );
            return `${fmt(results.httpBatch.eps)} ev/s`;
          }),
        );
      }
      if (only.includes('http-single')) {
        await step(
          'HTTP single path',
          withStack(async (s) => {
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
          }),
        );
      }
      if (only.includes('latency')) {
        await step(
          'latency',
          withStack(async (s) => {
            const basis = results.amqp?.eps ?? results.ceiling?.eps ?? 2000;
            const rate = Math.max(10, Math.round(basis / 2));
            results.latency = await runLatency(s, rate, sizes.latencySeconds);
            return `p50 ${fmt(results.latency.p50, 1)} ms, p99 ${fmt(results.latency.p99, 1)} ms at ${fmt(rate)} ev/s`;
          }),
        );
      }
      if (only.includes('queries')) {
        await step('queries', async () => {
          results.queries = await runQueries(env, progress, {
            events: sizes.queryEvents,
            clients: sizes.queryClients,
            types: sizes.queryTypes,
            requests: sizes.queryRequests,
          });
          const q = results.queries;
          return `p95 /reporte ${fmt(q.reporte.p95, 1)}, report ${fmt(q.report.p95, 1)}, timeseries ${fmt(q.timeseries.p95, 1)} ms`;
        });
      }
      if (only.includes('reads')) {
        await step('counting under read load', async () => {
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
        });
      }
      if (only.includes('memory')) {
        await step('memory', async () => {
          results.memory = await runMemory(env, progress, sizes.memoryBacklog);
          return `peak RSS ${fmt(results.memory.peakRssMb)} MB`;
        });
      }
    } finally {
      progress.note('cleaning up (children, queues, files)…');
      await env.cleanup(values.keep === true);
      if (values.keep === true) progress.note(`kept ${env.dir}`);
    }
    results.seconds = (performance.now() - started) / 1000;
    process.stdout.write(table(results));
    if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(toJson(results, config), null, 2)}\n`);
    if (interrupted) return 1;
    return results.errors.length ? 1 : 0;
  },
};
