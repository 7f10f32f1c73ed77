// Competing consumers on one queue and one PostgreSQL database: two, then three `warren analytics`
// processes while simulated clients publish and the same ids are published again and again; one
// analytics is killed with SIGKILL mid-stream. The final count equals the number of distinct
// confirmed ids, exactly, and nothing is left in the queue or the dead-letter queue.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Reporte, Status } from '../src/analytics/index.js';
import {
  freePort,
  getJson,
  pgDatabase,
  publishRaw,
  queueDepth,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';

let env: TestEnv;
let db: Awaited<ReturnType<typeof pgDatabase>>;
let vars: Record<string, string>;
const procs: WarrenProcess[] = [];

function start(args: string[], extra: Record<string, string> = {}): WarrenProcess {
  const p = warren(args, { ...vars, ...extra });
  procs.push(p);
  return p;
}

interface Analytics {
  proc: WarrenProcess;
  base: string;
}

async function analytics(): Promise<Analytics> {
  const port = await freePort();
  return { proc: start(['analytics'], { ANALYTICS_PORT: String(port) }), base: `http://127.0.0.1:${port}` };
}

const ready = (a: Analytics) => untilReady(a.proc, a.base, { timeoutMs: 60_000 });
const status = async (a: Analytics) => (await getJson<Status>(`${a.base}/api/v1/status`)).body;

// The same 300 ids, published again on every call (a client retrying after a lost confirm).
const DUPS = Array.from({ length: 300 }, (_, i) =>
  JSON.stringify({
    id: `dup-${i}`,
    cliente: 'cliente_tres',
    evento: 'retry',
    timestamp: `2025-04-13T12:${String(i % 60).padStart(2, '0')}:00Z`,
  }),
);

// Distinct ids published in one burst while the consumers are paused.
const BULK = Array.from({ length: 20_000 }, (_, i) =>
  JSON.stringify({
    id: `bulk-${i}`,
    cliente: 'cliente_cinco',
    evento: 'burst',
    timestamp: '2025-04-13T13:00:00Z',
  }),
);

async function confirmed(c: WarrenProcess): Promise<number> {
  assert.equal(await c.exited, 0, `client exit code; its output:\n${c.output()}`);
  const m = /(\d+) confirmed\n$/.exec(c.stdout());
  assert.ok(m, `no "N confirmed" line: ${c.stdout()}`);
  return Number(m[1]);
}

before(async () => {
  env = testEnv('comp');
  db = await pgDatabase(env.id);
  // Small batches and prefetch: more interleaving between the consumers, and the killed one
  // holds unacked deliveries that the broker must hand to the others.
  vars = { ...env.env, DATABASE_URL: db.url, PREFETCH: '300', BATCH_SIZE: '100', LOG_LEVEL: 'warn' };
});

after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await env.cleanup();
  await db.drop();
});

test('2 then 3 analytics on one queue, one SIGKILLed mid-stream: exact count of distinct ids', async (t) => {
  // Two processes start at the same moment against the empty database (concurrent migrations).
  const a = await analytics();
  const b = await analytics();
  await Promise.all([ready(a), ready(b)]);

  // Phase 1: a and b share the stream.
  const clients = [start(['client', '--name', 'cliente_uno', '--rate', '0', '--count', '1500'])];
  await publishRaw(env.exchange, DUPS);
  await waitFor(
    'a and b to share the work',
    async () => (await status(a)).processed > 0 && (await status(b)).processed > 0,
  );

  // Phase 2: c joins and takes a share of a new stream while b keeps working.
  const c = await analytics();
  await ready(c);
  const bBefore = await status(b);
  clients.push(start(['client', '--name', 'cliente_dos', '--rate', '0', '--count', '3000']));
  await publishRaw(env.exchange, DUPS);
  await waitFor('c to take a share while b keeps working', async () => {
    const [sb, sc] = [await status(b), await status(c)];
    return (
      sb.processed + sb.duplicates > bBefore.processed + bBefore.duplicates &&
      sc.processed + sc.duplicates > 0
    );
  });
  // Then a backlog that does not depend on how fast this machine drains it: the three consumers
  // are paused (SIGSTOP) while a burst is confirmed, so the broker hands each its prefetch window
  // and keeps the rest ready. b is killed paused, holding unacked deliveries (and perhaps a batch
  // committed but not acked: the others then see duplicates); a and c go on.
  for (const x of [a, b, c]) x.proc.child.kill('SIGSTOP');
  let depth: number;
  try {
    await publishRaw(env.exchange, BULK);
    depth = await queueDepth(env.queue);
  } finally {
    await b.proc.kill('SIGKILL');
    for (const x of [a, c]) x.proc.child.kill('SIGCONT');
  }
  assert.ok(depth > 0, `a backlog when b was killed (${depth} ready)`);

  // Phase 3: the survivors take over b's deliveries and the rest of the stream.
  clients.push(start(['client', '--name', 'cliente_cuatro', '--rate', '0', '--count', '1000']));
  await publishRaw(env.exchange, DUPS);
  let distinct = DUPS.length + BULK.length;
  for (const cl of clients) distinct += await confirmed(cl);
  assert.equal(distinct, 1500 + 3000 + 1000 + DUPS.length + BULK.length);

  const want: Reporte = {
    total: distinct,
    clientes: {
      cliente_uno: 1500,
      cliente_dos: 3000,
      cliente_cuatro: 1000,
      cliente_tres: DUPS.length,
      cliente_cinco: BULK.length,
    },
  };
  await waitFor(
    'every distinct id counted',
    async () => (await getJson<Reporte>(`${a.base}/reporte`)).body.total >= distinct,
    120_000,
  );
  const [sa, sc] = [await status(a), await status(c)];
  t.diagnostic(
    `b killed with ${depth} messages ready; survivors counted ${sa.processed + sc.processed}, skipped ${sa.duplicates + sc.duplicates} known ids`,
  );
  // Stop the survivors cleanly: anything still unacked goes back to the queue and would show.
  assert.equal(await a.proc.kill('SIGTERM'), 0, `analytics a on SIGTERM; its output:\n${a.proc.output()}`);
  assert.equal(await c.proc.kill('SIGTERM'), 0, `analytics c on SIGTERM; its output:\n${c.proc.output()}`);
  assert.equal(await queueDepth(env.queue), 0, 'nothing left in the queue');
  assert.equal(await queueDepth(env.dlq), 0, 'no valid event was dead-lettered');

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const totals = await client.query('SELECT cliente, SUM(count)::int AS n FROM totals GROUP BY cliente');
    const got: Reporte = { total: 0, clientes: {} };
    for (const r of totals.rows as { cliente: string; n: number }[]) {
      got.clientes[r.cliente] = r.n;
      got.total += r.n;
    }
    assert.deepEqual(got, want);
    const minutes = await client.query('SELECT SUM(count)::int AS n FROM counts_minute');
    assert.equal(minutes.rows[0].n, distinct, 'minute counters agree with the totals');
    const seen = await client.query('SELECT COUNT(*)::int AS n FROM seen_ids');
    assert.equal(seen.rows[0].n, distinct);
  } finally {
    await client.end();
  }
});
