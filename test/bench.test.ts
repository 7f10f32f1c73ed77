// Smoke tests of `warren bench --quick`: it completes against the real broker, prints its table,
// writes well-formed JSON with every figure of CONTRACT.md "Benchmark" as a finite number, and
// leaves none of its queues behind; with `--repeat 2 --store postgres` the JSON holds both runs,
// the medians under the same keys and each figure's min and max, and its databases are dropped.
// No timed assertions (STYLE.md 13): figures are not checked, only their shape and how they relate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import amqp from 'amqplib';
import pg from 'pg';
import { AMQP_URL, PG_URL, testEnv, warren } from './support/helpers.js';

const TOP_LEVEL = [
  'broker_ceiling_eps',
  'amqp_path_eps',
  'http_batch_eps',
  'http_single_rps',
  'ratio_amqp',
  'ratio_http_batch',
  'proxy_ceiling_rps',
  'ratio_http_single_proxy',
  'ingest_cpu_us_per_request',
  'analytics_peak_rss_mb',
  'reads_amqp_path_eps',
  'reads_amqp_alone_eps',
  'ratio_amqp_under_reads',
  'reads_latency_p99_ms',
  'reads_reports_per_s',
] as const;

function finite(value: unknown, key: string): void {
  assert.equal(typeof value, 'number', `${key} is ${JSON.stringify(value)}, not a number`);
  assert.ok(Number.isFinite(value), `${key} is not finite`);
}

/** Whether a queue still exists (a passive declare closes the channel when it does not). */
async function queueExists(name: string): Promise<boolean> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    return await ch.checkQueue(name).then(
      () => true,
      () => false,
    );
  } finally {
    await conn.close().catch(() => undefined);
  }
}

describe('warren bench --quick', () => {
  const t = testEnv('bench');
  after(() => t.cleanup());

  it('completes and writes every figure as a finite number', { timeout: 240_000 }, async () => {
    const file = join(t.dir, 'bench.json');
    const p = warren(['bench', '--quick', '--json', file], { LOG_LEVEL: 'warn' });
    const code = await p.exited;
    assert.equal(code, 0, `warren bench exited ${code}:\n${p.output().slice(-3000)}`);
    assert.match(p.stdout(), /broker ceiling/);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const key of TOP_LEVEL) finite(json[key], key);
    const latency = json.latency_ms as Record<string, unknown>;
    for (const k of ['p50', 'p95', 'p99', 'p999']) finite(latency[k], `latency_ms.${k}`);
    const query = json.query_ms as Record<string, unknown>;
    for (const k of [
      'reporte_p95',
      'report_p95',
      'timeseries_p95',
      'reporte_live_p95',
      'report_live_p95',
      'timeseries_live_p95',
      'reporte_cold_p95',
      'report_cold_p95',
      'timeseries_cold_p95',
    ])
      finite(query[k], `query_ms.${k}`);
    const machine = json.machine as Record<string, unknown>;
    finite(machine.cores, 'machine.cores');
    finite(machine.memory_mb, 'machine.memory_mb');
    assert.match(String(machine.node), /^v\d+/);
    assert.match(String(machine.rabbitmq), /^\d+\.\d+/);
    assert.deepEqual(json.errors, []);
    assert.equal(json.repeat, 1);
    assert.equal((json.runs as unknown[]).length, 1);
    // Both ceilings are the best of several settings, each one in details.
    const details = json.details as Record<string, { runs: Record<string, number>[] }>;
    assert.deepEqual(
      details.ceiling!.runs.map((r) => r.publishers),
      [1, 2, 4],
    );
    assert.deepEqual(
      details.proxy!.runs.map((r) => r.connections),
      [64, 128, 256],
    );
    assert.equal(json.broker_ceiling_eps, Math.round(Math.max(...details.ceiling!.runs.map((r) => r.eps!))));
    assert.equal(json.proxy_ceiling_rps, Math.round(Math.max(...details.proxy!.runs.map((r) => r.rps!))));
    // Where the machine's CPU went in each stage a ratio compares: its cores, busy or not.
    assert.match(p.stdout(), /AMQP path .*; machine idle \d+\.\d\d, iowait \d+\.\d\d, steal \d+\.\d\d/);
    const stages = json.details as Record<string, { host?: Record<string, number> }>;
    for (const stage of ['ceiling', 'proxy', 'amqp_path', 'http_batch', 'http_single', 'http_send']) {
      const host = stages[stage]?.host;
      assert.ok(host, `details.${stage}.host`);
      for (const k of ['busy', 'idle', 'iowait', 'steal']) finite(host[k], `details.${stage}.host.${k}`);
      const sum = host.busy! + host.idle! + host.iowait! + host.steal!;
      assert.ok(Math.abs(sum - Number(machine.cores)) <= 0.5, `details.${stage}.host sums to ${sum}`);
    }
    // Its own queues are gone (the id is printed on stderr: "queues warren_bench_<id>.*").
    const id = /queues (warren_bench_[0-9a-f]+)\.\*/.exec(p.output())?.[1];
    assert.ok(id, 'the run names its queues on stderr');
    for (const part of ['ceiling', 'main', 'queries', 'memory', 'reads']) {
      assert.equal(await queueExists(`${id}.${part}.cola`), false, `${id}.${part}.cola was left behind`);
    }
  });

  it('--repeat 2 --store postgres: both runs, medians under the same keys, min and max, databases dropped', {
    timeout: 360_000,
  }, async () => {
    const file = join(t.dir, 'repeat.json');
    const p = warren(
      [
        'bench',
        '--quick',
        '--repeat',
        '2',
        '--store',
        'postgres',
        '--only',
        // reads: its analytics must stop with its pass, or the next pass's shares its queue.
        'ceiling,latency,queries,reads',
        '--json',
        file,
      ],
      {
        LOG_LEVEL: 'warn',
        DATABASE_URL: PG_URL,
      },
    );
    const code = await p.exited;
    assert.equal(code, 0, `warren bench exited ${code}:\n${p.output().slice(-3000)}`);
    assert.match(p.stdout(), /--repeat 2 \(medians\), postgres/);
    assert.match(p.stdout(), /every figure over 2 runs/);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const runs = json.runs as unknown[];
    assert.equal(json.repeat, 2);
    assert.equal(runs.length, 2);
    assert.equal((json.settings as { store: string }).store, 'postgres');
    assert.deepEqual(json.errors, []);
    for (const key of [
      'broker_ceiling_eps',
      'latency_ms.p99',
      'latency_ms.p999',
      'query_ms.report_p95',
      'reads_amqp_path_eps',
    ]) {
      const get = (o: unknown) =>
        key.split('.').reduce((v, k) => (v as Record<string, unknown>)[k], o) as number;
      const [a, b] = runs.map(get) as [number, number];
      finite(a, `runs[0].${key}`);
      finite(b, `runs[1].${key}`);
      assert.equal(get(json.min), Math.min(a, b), `min.${key}`);
      assert.equal(get(json.max), Math.max(a, b), `max.${key}`);
      assert.ok(
        Math.abs(get(json) - (a + b) / 2) <= 0.51,
        `${key}: ${get(json)} is not the median of ${a} and ${b}`,
      );
    }
    const id = /queues (warren_bench_[0-9a-f]+)\.\*/.exec(p.output())?.[1];
    assert.ok(id, 'the run names its queues on stderr');
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      const left = await c.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${id}%`]);
      assert.deepEqual(left.rows, [], 'its databases were dropped');
    } finally {
      await c.end();
    }
  });
});
