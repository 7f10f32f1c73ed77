// Measures the data lifecycle for BENCHMARKS.md: store size on disk after N events from C clients
// over D simulated days, with and without retention; how long retention passes take; and the peak
// RSS of `warren export` over the whole range. Data goes straight to store.commit() with an
// injected clock, so 30 days take a minute, not a month.
//
//   node --import tsx scripts/retention-size.ts [--kind sqlite|postgres] [--events 1000000]
//     [--clients 10000] [--days 30] [--pass-every-hours 6] [--modes without,with] [--json FILE]
//
// PostgreSQL uses TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create
// and drop databases of its own. Needs `npm run build` (the export runs the built CLI).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { v7 } from 'uuid';
import type { ParsedEvent } from '../src/event.js';
import { maintenanceOf, PostgresStore, retentionPass, SqliteStore, type Store } from '../src/store/index.js';
import { tempDatabase } from './temp-database.js';

const { values: args } = parseArgs({
  options: {
    kind: { type: 'string', default: 'sqlite' },
    events: { type: 'string', default: '1000000' },
    clients: { type: 'string', default: '10000' },
    days: { type: 'string', default: '30' },
    'pass-every-hours': { type: 'string', default: '6' },
    modes: { type: 'string', default: 'without,with' },
    json: { type: 'string' },
  },
});
const KIND = args.kind === 'postgres' ? 'postgres' : 'sqlite';
const N = Number(args.events);
const CLIENTS = Number(args.clients);
const DAYS = Number(args.days);
const PASS_EVERY = Number(args['pass-every-hours']) * 3600;
const SETTINGS = { dedupeWindowDays: 7, minuteRetentionHours: 48, hourRetentionDays: 90 };
const EVENTOS = ['page_view', 'click', 'signup', 'purchase', 'logout'];
const START = Date.parse('2025-03-01T00:00:00Z') / 1000;
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCH = 500;
const say = (s: string) => process.stderr.write(`${s}\n`);

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Target {
  store: Store;
  clock: { now: number };
  size(): Promise<{ bytes: number; liveBytes: number }>;
  url: string;
  drop(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-size-'));
  const path = join(dir, 'warren.db');
  const clock = { now: START };
  const store = new SqliteStore(path, { now: () => clock.now * 1000 });
  await store.migrate();
  return {
    store,
    clock,
    url: `sqlite:${path}`,
    async size() {
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      const page = Number(store.db.pragma('page_size', { simple: true }));
      const free = Number(store.db.pragma('freelist_count', { simple: true }));
      const bytes = statSync(path).size;
      return { bytes, liveBytes: bytes - free * page };
    },
    drop: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgTarget(): Promise<Target> {
  const db = await tempDatabase(PG_URL, 'warren_size');
  const clock = { now: START };
  const store = new PostgresStore(db.url, { now: () => clock.now * 1000 });
  await store.migrate();
  const dbSize = async () =>
    Number((await store.pool.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
  return {
    store,
    clock,
    url: db.url,
    async size() {
      // As left by the run (dead rows wait for autovacuum), then compacted to the live data.
      const bytes = await dbSize();
      await store.pool.query('VACUUM FULL');
      return { bytes, liveBytes: await dbSize() };
    },
    drop: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/** Arrival times spread evenly over the days; 1% arrive up to 3 days late, the rest within a minute. */
function batchAt(i: number, rnd: () => number): { events: ParsedEvent[]; arrival: number } {
  const events: ParsedEvent[] = [];
  const span = DAYS * 86_400;
  let arrival = START;
  for (let j = i; j < Math.min(N, i + BATCH); j++) {
    arrival = START + Math.floor((j / N) * span);
    const lag = rnd() < 0.01 ? rnd() * 3 * 86_400 : rnd() * 60;
    const ms = Math.floor((arrival - lag) * 1000);
    events.push({
      id: v7({ msecs: ms }),
      cliente: `cliente_${Math.floor(rnd() * CLIENTS)}`,
      evento: EVENTOS[Math.floor(rnd() * EVENTOS.length)]!,
      timestamp: new Date(ms).toISOString(),
      ms,
    });
  }
  return { events, arrival };
}

async function fill(t: Target, withRetention: boolean) {
  const rnd = random(42);
  const passes: number[] = [];
  let nextPass = START + PASS_EVERY;
  const started = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const { events, arrival } = batchAt(i, rnd);
    t.clock.now = arrival;
    await t.store.commit(events);
    if (withRetention && arrival >= nextPass) {
      const r = await retentionPass(t.store, SETTINGS, { now: arrival });
      passes.push(r.ms);
      nextPass += PASS_EVERY;
    }
    if (i % 100_000 === 0) say(`  ${i.toLocaleString('en-US')} events`);
  }
  return { seconds: (performance.now() - started) / 1000, passes };
}

/** Peak RSS (VmHWM) of `warren export` over all time, minute buckets, polled from /proc. */
async function exportRss(url: string) {
  const out = join(tmpdir(), `warren-size-export-${process.pid}.ndjson`);
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/warren.js', 'export', '--out', out, '--bucket', 'minute'], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  let peak = 0;
  const rss: number[] = [];
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      const now = /VmRSS:\s+(\d+) kB/.exec(status);
      if (now) rss.push(Number(now[1]) / 1024);
    } catch {
      // exited between two polls
    }
  }, 20);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(poll);
  if (code !== 0) throw new Error(`warren export exited with ${code}`);
  const bytes = statSync(out).size;
  rmSync(out, { force: true });
  // RSS at a quarter, half, three quarters and the end of the run: flat means streaming.
  const quarters = [0.25, 0.5, 0.75, 1].map((q) =>
    Math.round(rss[Math.max(0, Math.ceil(q * rss.length) - 1)] ?? 0),
  );
  return { peakMb: Math.round(peak), quarters, seconds: (performance.now() - started) / 1000, bytes };
}

async function run(withRetention: boolean) {
  const t = KIND === 'postgres' ? await pgTarget() : await sqliteTarget();
  try {
    say(`${KIND}, ${withRetention ? 'with' : 'without'} retention: ${N.toLocaleString('en-US')} events`);
    const filled = await fill(t, withRetention);
    // One more pass at the end: with retention it is the steady-state pass; without, the
    // catch-up pass a store that never had retention would run first (measured after sizing).
    const rows = await maintenanceOf(t.store).sizes();
    const exp = await exportRss(t.url);
    const size = await t.size();
    const last = await retentionPass(t.store, SETTINGS, { now: t.clock.now });
    const p = filled.passes;
    return {
      kind: KIND,
      retention: withRetention,
      events: N,
      clients: CLIENTS,
      days: DAYS,
      fill_s: Math.round(filled.seconds * 10) / 10,
      size_mb: Math.round((size.bytes / 2 ** 20) * 10) / 10,
      live_size_mb: Math.round((size.liveBytes / 2 ** 20) * 10) / 10,
      rows,
      passes: p.length,
      pass_ms_mean: p.length ? Math.round(p.reduce((a, b) => a + b, 0) / p.length) : null,
      pass_ms_max: p.length ? Math.max(...p) : null,
      final_pass_ms: last.ms,
      final_pass: { idsPruned: last.idsPruned, minuteRows: last.minuteRows, hourRows: last.hourRows },
      export_peak_rss_mb: exp.peakMb,
      export_rss_mb_quarters: exp.quarters,
      export_s: Math.round(exp.seconds * 10) / 10,
      export_mb: Math.round((exp.bytes / 2 ** 20) * 10) / 10,
    };
  } finally {
    await t.drop();
  }
}

const results = [];
for (const mode of String(args.modes).split(',')) results.push(await run(mode === 'with'));
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
