// Times the long-range unique-user reads of /api/v1/uniques and /api/v1/report on the bench's
// unique-users data (src/bench/uniques-data.ts: 100 clients over 90 days, rolled up as the bench
// stage does), each read both ways: merging the stored sketch rows ("raw", src/store/uniques.ts)
// and through the store (kept day unions where the range has whole days, uniques-days.ts). Every
// request moves both bounds by a minute, as the bench's timed requests do; the first request of
// each read through the store finds nothing kept.
//
//   node --import tsx scripts/uniques-timing.ts [--kind sqlite|postgres] [--events 300000]
//     [--users 100000] [--requests 9]
//
// PostgreSQL uses TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create
// and drop a database of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Progress } from '../src/bench/progress.js';
import { UNIQUES_RETENTION } from '../src/bench/uniques.js';
import { generate } from '../src/bench/uniques-data.js';
import { fillUniques, rollUp } from '../src/bench/uniques-fill.js';
import { type Filter, PostgresStore, SqliteStore, type SqlStore } from '../src/store/index.js';
import { clientReport } from '../src/store/report.js';
import { clientUniques, uniques } from '../src/store/uniques.js';
import { tempDatabase } from './temp-database.js';

const { values: args } = parseArgs({
  options: {
    kind: { type: 'string', default: 'sqlite' },
    events: { type: 'string', default: '300000' },
    users: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '9' },
  },
});
const KIND = args.kind === 'postgres' ? 'postgres' : 'sqlite';
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DAY = 86_400;
const say = (s: string) => process.stderr.write(`${s}\n`);

async function open(): Promise<{ store: SqlStore; drop(): Promise<void> }> {
  if (KIND === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'warren-uniques-'));
    const store = new SqliteStore(join(dir, 'warren.db'));
    return { store, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await tempDatabase(PG_URL, 'warren_uniques');
  return { store: new PostgresStore(db.url), drop: db.drop };
}

/** Runs read(i) for each request; the first alone, then the median, min and max of the rest. */
async function time(label: string, read: (i: number) => Promise<unknown>): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < Number(args.requests); i++) {
    const t0 = performance.now();
    await read(i);
    ms.push(performance.now() - t0);
  }
  const [first, ...rest] = ms;
  rest.sort((a, b) => a - b);
  const f = (n: number | undefined) => (n ?? Number.NaN).toFixed(1);
  console.log(
    `${KIND.padEnd(8)} ${label.padEnd(44)} first ${f(first).padStart(7)} ms, then median ${f(rest[rest.length >> 1]).padStart(6)} (${f(rest[0])}–${f(rest[rest.length - 1])})`,
  );
}

async function main(): Promise<void> {
  const { store, drop } = await open();
  try {
    await store.migrate();
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    const spec = { events: Number(args.events), users: Number(args.users), clients: 100, types: 5, days: 90 };
    const data = generate({ ...spec, seed: 19, now });
    say(`${KIND}: filling ${spec.events} events of ${spec.users} users, 100 clients, 90 days`);
    await fillUniques(store, data, { update: say } as unknown as Progress, KIND);
    await rollUp(store, data, UNIQUES_RETENTION);
    if (store instanceof PostgresStore) await store.pool.query('VACUUM ANALYZE');
    const end = now / 1000;
    const d90 = (i: number): Filter => ({ from: end - 90 * DAY + (i + 1) * 60, to: end - i * 60 });
    const d30 = (i: number): Filter => ({ from: end - 30 * DAY + i * 60 });
    const d = store.driver;
    await time('report usuarios per client, 90 d (raw)', (i) => clientUniques(d, d90(i)));
    await time('report usuarios per client, 90 d (store)', (i) => store.clientUniques(d90(i)));
    await time('report counts alone, 90 d', (i) => clientReport(d, d90(i)));
    await time('report with usuarios, 90 d (store)', (i) => store.clientReport(d90(i)));
    await time('uniques bucket=day, 90 d (raw)', (i) => uniques(d, d90(i), 'day'));
    await time('uniques bucket=day, 90 d (store)', (i) => store.uniques(d90(i), 'day'));
    await time('uniques bucket=day, last 30 d, no to (raw)', (i) => uniques(d, d30(i), 'day'));
    await time('uniques bucket=day, last 30 d, no to (store)', (i) => store.uniques(d30(i), 'day'));
    await time('uniques total, 90 d (raw)', (i) => uniques(d, d90(i)));
    await time('uniques total, 90 d (store)', (i) => store.uniques(d90(i)));
  } finally {
    await store.close();
    await drop();
  }
}

await main();
