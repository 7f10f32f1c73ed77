// `warren bench`: measures, in one run against the configured broker, the broker's own ceiling,
// the proxy's (Traefik in front of a backend that does nothing), the AMQP path, the HTTP batch and single-event paths through Traefik, end-to-end latency,
// query times over a big store and analytics' memory under a backlog (CONTRACT.md, "Benchmark").
// Everything it starts is its own: child processes on free ports, queues and exchanges named
// warren_bench_<id>.*, SQLite files in a temp directory; all removed at the end.
import { writeFileSync } from 'node:fs';
import { type CommandContext, type CommandSpec, usageError } from '../command.js';
import { describe, WarrenError } from '../errors.js';
import { BenchEnv } from './env.js';
import { machine } from './machine.js';
import { PLAN, STAGES, type StageContext, type StageName } from './plan.js';
import { Progress } from './progress.js';
import { type Results, table, toJson } from './report.js';
import { FULL, QUICK, type Sizes } from './sizes.js';
import { type Stage, startStack } from './stage.js';

function parseOnly(v: unknown): StageName[] {
  if (v === undefined) return [...STAGES];
  const list = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of list) {
    if (!(STAGES as readonly string[]).includes(s))
      throw usageError(`--only: unknown stage "${s}"; stages: ${STAGES.join(', ')}`);
  }
  return STAGES.filter((s) => list.includes(s));
}

/** `--flag N` as a size override; N must be a whole number from 1 to 1,000. */
function positive(v: unknown, flag: string, key: keyof Sizes): Partial<Sizes> {
  if (v === undefined) return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw usageError(`${flag}: expected a whole number from 1 to 1000, got "${v}"`);
  return { [key]: n };
}

interface BenchOptions {
  only: StageName[];
  quick: boolean;
  sizes: Sizes;
  jsonFile: string | undefined;
  profileDir: string | undefined;
  keep: boolean;
}

function parseOptions(values: CommandContext['values']): BenchOptions {
  const quick = values.quick === true;
  return {
    only: parseOnly(values.only),
    quick,
    sizes: {
      ...(quick ? QUICK : FULL),
      ...positive(values.ingest, '--ingest', 'ingestInstances'),
      ...positive(values.connections, '--connections', 'httpSingleConnections'),
    },
    jsonFile: values.json as string | undefined,
    profileDir: values.profile as string | undefined,
    keep: values.keep === true,
  };
}

/**
 * Runs the chosen stages in PLAN's order; a stage that fails is reported and the next one runs.
 * A stop signal ends the stage in progress and skips the rest. Returns that signal, if one came.
 */
async function runStages(
  ctx: StageContext,
  opts: BenchOptions,
  stopSignal: Promise<NodeJS.Signals>,
): Promise<NodeJS.Signals | undefined> {
  const { progress, results } = ctx;
  let interrupted: NodeJS.Signals | undefined;
  const cancel = stopSignal.then((sig) => {
    interrupted = sig;
    throw new WarrenError('interrupted', `interrupted by ${sig}`);
  });
  cancel.catch(() => undefined);

  // The stack is started once, just before the first stage that measures it.
  let stack: Stage | undefined;
  let stackError: unknown;
  let stackTried = false;
  const theStack = (): Stage => {
    if (!stack) {
      throw new WarrenError('internal', `the measured stack did not start: ${describe(stackError)}`, {
        cause: stackError,
      });
    }
    return stack;
  };

  for (const planned of PLAN) {
    if (!opts.only.includes(planned.name)) continue;
    if (planned.needsStack && !stackTried) {
      stackTried = true;
      try {
        const options = { ingestInstances: opts.sizes.ingestInstances, profileDir: opts.profileDir };
        stack = await Promise.race([startStack(ctx.env, progress, options), cancel]);
      } catch (err) {
        stackError = err;
      }
    }
    if (interrupted) {
      results.errors.push({ stage: planned.title, message: `skipped: interrupted by ${interrupted}` });
      continue;
    }
    progress.start(planned.title);
    try {
      progress.end(await Promise.race([planned.run(ctx, theStack), cancel]));
    } catch (err) {
      const message = describe(err);
      results.errors.push({ stage: planned.title, message });
      progress.end(`FAILED: ${message}`);
    }
  }
  return interrupted;
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
    const opts = parseOptions(values);
    const started = performance.now();
    const results: Results = {
      quick: opts.quick,
      startedAt: new Date(),
      seconds: 0,
      sizes: opts.sizes,
      machine: undefined,
      errors: [],
    };
    const env = new BenchEnv(config, log);
    try {
      results.machine = await machine(config.amqpUrls[0]!);
    } catch (err) {
      process.stderr.write(
        `warren bench: RabbitMQ is not reachable at AMQP_URL (${describe(err)}); start it (e.g. \`rabbitmq-server -detached\`) or set AMQP_URL\n`,
      );
      env.cleanup().catch(() => undefined);
      return 1;
    }
    const progress = new Progress(opts.only.length);
    progress.note(`warren bench${opts.quick ? ' --quick' : ''}: queues ${env.id}.*, files in ${env.dir}`);
    let interrupted: NodeJS.Signals | undefined;
    try {
      interrupted = await runStages({ env, progress, sizes: opts.sizes, results }, opts, stopSignal);
    } finally {
      progress.note('cleaning up (children, queues, files)…');
      await env.cleanup(opts.keep);
      if (opts.keep) progress.note(`kept ${env.dir}`);
    }
    results.seconds = (performance.now() - started) / 1000;
    process.stdout.write(table(results));
    if (opts.jsonFile) writeFileSync(opts.jsonFile, `${JSON.stringify(toJson(results, config), null, 2)}\n`);
    if (interrupted) return 1;
    return results.errors.length ? 1 : 0;
  },
};
