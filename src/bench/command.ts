// `warren bench`: measures, in one run against the configured broker, the broker's own ceiling,
// the proxy's (Traefik in front of a backend that does nothing), the AMQP path, the HTTP batch and
// single-event paths through Traefik, end-to-end latency, query times over a big store and
// analytics' memory under a backlog (CONTRACT.md, "Benchmark"); `--repeat N` runs every stage N
// times and reports medians. Everything it starts is its own: child processes on free ports,
// queues and exchanges named warren_bench_<id>.*, SQLite files in a temp directory (or PostgreSQL
// databases with `--store postgres`); all removed at the end.
import { writeFileSync } from 'node:fs';
import { type CommandContext, type CommandSpec, usageError } from '../command.js';
import type { Config } from '../config.js';
import { describe } from '../errors.js';
import { BenchEnv, type StoreKind } from './env.js';
import { machine } from './machine.js';
import { STAGES, type StageName } from './plan.js';
import { Progress } from './progress.js';
import { combine, median, repeatedJson, spreadTable } from './repeat.js';
import { type Results, table, toJson } from './report.js';
import { runStages, StackHolder } from './run.js';
import { FULL, QUICK, type Sizes } from './sizes.js';

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

/** The PostgreSQL server of `--store postgres`: DATABASE_URL's when it is one, else the local one. */
const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** `--uniques-users N` / `--uniques-events N`: the unique-users stage at another size (issue #19: 1M users). */
function uniquesSize(values: CommandContext['values'], base: Sizes['uniques']): Sizes['uniques'] {
  const read = (flag: string, v: unknown, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 20_000_000)
      throw usageError(`${flag}: expected a whole number from 1 to 20000000, got "${String(v)}"`);
    return n;
  };
  const users = read('--uniques-users', values['uniques-users'], base.users);
  // Every user sends at least once; the rest of the events go to Zipf-drawn users (1.5 per user
  // by default, as in the full and quick sizes).
  const events = read(
    '--uniques-events',
    values['uniques-events'],
    values['uniques-users'] === undefined ? base.events : Math.round(users * 1.5),
  );
  if (events < users)
    throw usageError(
      `--uniques-events (${events}) must be at least --uniques-users (${users}): every user sends at least one event`,
    );
  return { ...base, users, events };
}

function parseStore(v: unknown, config: Config): StoreKind {
  if (v === undefined || v === 'sqlite') return { kind: 'sqlite' };
  if (v !== 'postgres') throw usageError(`--store: expected sqlite or postgres, got "${String(v)}"`);
  if (!/^postgres(ql)?:/.test(config.databaseUrl)) return { kind: 'postgres', serverUrl: LOCAL_POSTGRES };
  // Databases are created from the server's own maintenance database, never from the user's.
  const url = new URL(config.databaseUrl);
  url.pathname = '/postgres';
  return { kind: 'postgres', serverUrl: url.toString() };
}

interface BenchOptions {
  only: StageName[];
  quick: boolean;
  repeat: number;
  store: StoreKind;
  sizes: Sizes;
  jsonFile: string | undefined;
  profileDir: string | undefined;
  keep: boolean;
}

function parseOptions(values: CommandContext['values'], config: Config): BenchOptions {
  const quick = values.quick === true;
  const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
  const base = quick ? QUICK : FULL;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20)
    throw usageError(`--repeat: expected a whole number from 1 to 20, got "${String(values.repeat)}"`);
  return {
    only: parseOnly(values.only),
    quick,
    repeat,
    store: parseStore(values.store, config),
    sizes: {
      ...base,
      uniques: uniquesSize(values, base.uniques),
      ...positive(values.ingest, '--ingest', 'ingestInstances'),
      ...positive(values.connections, '--connections', 'httpSingleConnections'),
    },
    jsonFile: values.json as string | undefined,
    profileDir: values.profile as string | undefined,
    keep: values.keep === true,
  };
}

export const command: CommandSpec = {
  summary:
    'measure the broker ceiling, the AMQP and HTTP paths, latency, queries, memory and counting under read load',
  usage:
    'warren bench [--quick] [--repeat N] [--store sqlite|postgres] [--json FILE] [--only ceiling,amqp,...] [--ingest N] [--connections N] [--uniques-users N] [--uniques-events N] [--profile DIR] [--keep]',
  options: {
    quick: { type: 'boolean' },
    ingest: { type: 'string' },
    connections: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    repeat: { type: 'string' },
    store: { type: 'string' },
    profile: { type: 'string' },
    'uniques-users': { type: 'string' },
    'uniques-events': { type: 'string' },
    keep: { type: 'boolean' },
  },
  help: {
    quick: 'reduced sizes: the whole run in under a minute',
    json: 'write every figure to FILE as JSON',
    only: `run only these stages (comma-separated): ${STAGES.join(', ')}`,
    repeat: "run every stage N times; report each figure's median, with min and max (default 1)",
    store: `the stores measured: sqlite (files in a temp directory, default) or postgres (databases created on DATABASE_URL's server when it is PostgreSQL, else on ${LOCAL_POSTGRES}, dropped after)`,
    ingest: `ingest instances behind Traefik (default ${FULL.ingestInstances})`,
    connections: `keep-alive connections of the HTTP single path (default ${FULL.httpSingleConnections})`,
    'uniques-users': `users of the unique-users stage's data (default ${FULL.uniques.users.toLocaleString('en-US')}; --quick ${QUICK.uniques.users.toLocaleString('en-US')})`,
    'uniques-events': `events of the unique-users stage's data, at least one per user (default ${FULL.uniques.events.toLocaleString('en-US')}; with --uniques-users alone, 1.5 per user)`,
    profile: 'write V8 CPU profiles of analytics and ingest (node --cpu-prof) into DIR',
    keep: "keep the run's directory (children's logs, SQLite files) instead of deleting it",
  },
  async run({ config, log, values, stopSignal }) {
    const opts = parseOptions(values, config);
    const started = performance.now();
    const env = new BenchEnv(config, log, opts.store);
    let mc: Results['machine'];
    try {
      mc = await machine(config.amqpUrls[0]!);
    } catch (err) {
      process.stderr.write(
        `warren bench: RabbitMQ is not reachable at AMQP_URL (${describe(err)}); start it (e.g. \`rabbitmq-server -detached\`) or set AMQP_URL\n`,
      );
      env.cleanup().catch(() => undefined);
      return 1;
    }
    const progress = new Progress(opts.only.length * opts.repeat);
    progress.note(
      `warren bench${opts.quick ? ' --quick' : ''}: queues ${env.id}.*, ${opts.store.kind} stores, files in ${env.dir}`,
    );
    const runs: Results[] = [];
    let interrupted: NodeJS.Signals | undefined;
    const holder = new StackHolder({
      ingestInstances: opts.sizes.ingestInstances,
      profileDir: opts.profileDir,
    });
    try {
      for (let i = 1; i <= opts.repeat && !interrupted; i++) {
        if (opts.repeat > 1) progress.note(`run ${i} of ${opts.repeat}`);
        env.run = i;
        const results = newResults(opts, mc);
        runs.push(results);
        interrupted = await runStages(
          { env, progress, sizes: opts.sizes, results },
          opts.only,
          holder,
          stopSignal,
        );
        results.seconds = (performance.now() - started) / 1000;
      }
    } finally {
      progress.note(
        `cleaning up (children, queues, ${opts.store.kind === 'postgres' ? 'databases, ' : ''}files)…`,
      );
      await holder.settled();
      await env.cleanup(opts.keep);
      if (opts.keep) progress.note(`kept ${env.dir}`);
    }
    return report(runs, opts, config, interrupted);
  },
};

function newResults(opts: BenchOptions, mc: Results['machine']): Results {
  return {
    quick: opts.quick,
    store: opts.store.kind,
    repeat: opts.repeat,
    startedAt: new Date(),
    seconds: 0,
    sizes: opts.sizes,
    machine: mc,
    errors: [],
  };
}

/** Prints the table (medians, then every figure's spread when repeated), writes the JSON; the exit code. */
function report(
  runs: Results[],
  opts: BenchOptions,
  config: Config,
  interrupted: NodeJS.Signals | undefined,
) {
  const jsons = runs.map((r) => toJson(r, config) as unknown as Record<string, unknown>);
  const json = repeatedJson(jsons);
  const errors = json.errors as unknown[];
  if (runs.length === 1) {
    process.stdout.write(table(runs[0]!));
  } else {
    const med: Results = {
      ...combine(runs, median),
      seconds: runs.at(-1)!.seconds,
      errors: runs.flatMap((r, i) => r.errors.map((e) => ({ ...e, stage: `run ${i + 1}: ${e.stage}` }))),
    };
    process.stdout.write(table(med) + spreadTable(json));
  }
  if (opts.jsonFile) writeFileSync(opts.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  if (interrupted) return 1;
  return errors.length ? 1 : 0;
}
