// PostgreSQL half-open connections: a connection the network drops without closing it (no FIN, no
// RST) must fail the batch instead of leaving a commit waiting forever. A TCP proxy between
// analytics and PostgreSQL blackholes the connection at its COMMIT; analytics gives up on it,
// connects again, retries the batch, and every id is counted exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Reporte } from '../src/analytics/index.js';
import { PG_LIMITS, PostgresStore } from '../src/store/index.js';
import {
  freePort,
  getJson,
  pgDatabase,
  publishRaw,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { TcpProxy } from './support/tcp-proxy.js';

let env: TestEnv;
let db: Awaited<ReturnType<typeof pgDatabase>>;
let proxy: TcpProxy;
let analytics: WarrenProcess;
let base: string;

before(async () => {
  env = testEnv('pgbh');
  db = await pgDatabase(env.id);
  const target = new URL(db.url);
  proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
  await proxy.up();
  const url = new URL(db.url);
  url.port = String(proxy.port);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  analytics = warren(['analytics'], {
    ...env.env,
    DATABASE_URL: url.toString(),
    ANALYTICS_PORT: String(port),
    RETENTION_INTERVAL_S: '0',
  });
  await untilReady(analytics, base, { timeoutMs: 90_000 });
});

after(async () => {
  await analytics?.kill();
  await proxy?.down();
  await db?.drop();
  await env?.cleanup();
});

const events = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      id: `${prefix}-${i}`,
      cliente: 'cliente_uno',
      evento: prefix,
      timestamp: '2025-04-13T12:00:00Z',
    }),
  );

/** Counts read straight from PostgreSQL (not through the proxy). */
async function counted(evento: string): Promise<{ total: number; ids: number }> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const total = await c.query('SELECT COALESCE(SUM(count), 0)::int AS n FROM totals WHERE evento = $1', [
      evento,
    ]);
    const ids = await c.query('SELECT COUNT(*)::int AS n FROM seen_ids WHERE id LIKE $1', [`${evento}-%`]);
    return { total: total.rows[0].n, ids: ids.rows[0].n };
  } finally {
    await c.end();
  }
}

const isCommit = (chunk: Buffer) => chunk.includes('COMMIT');

/** Arms the proxy's one-shot blackhole; the returned function says whether it caught a connection. */
function arm(forward: boolean): () => boolean {
  let sprung = false;
  void proxy.blackholeWhen(isCommit, { forward }).then(() => {
    sprung = true;
  });
  return () => sprung;
}

test('a COMMIT that never reaches PostgreSQL: analytics reconnects, retries, counts each id once', async () => {
  const caught = arm(false);
  await publishRaw(env.exchange, events('lost', 300));
  await waitFor('a connection blackholed at its COMMIT', caught, 60_000);
  await waitFor('every event counted', async () => (await counted('lost')).total === 300, 90_000);
  assert.deepEqual(await counted('lost'), { total: 300, ids: 300 });
  const status = await getJson<{ processed: number }>(`${base}/api/v1/status`);
  assert.equal(status.status, 200);
});

test('a COMMIT whose answer is lost: the retried batch finds its ids known, nothing counts twice', async () => {
  const caught = arm(true);
  await publishRaw(env.exchange, events('unanswered', 300));
  await waitFor('a connection blackholed after its COMMIT', caught, 60_000);
  await waitFor('every event counted', async () => (await counted('unanswered')).total === 300, 90_000);
  // The committed batch came back as duplicates (its ids were known), and nothing more arrives.
  const status = await waitFor(
    'the retried batch seen as duplicates',
    async () => {
      const s = (await getJson<{ duplicates: number }>(`${base}/api/v1/status`)).body;
      return s.duplicates > 0 ? s : undefined;
    },
    60_000,
  );
  assert.ok(status.duplicates > 0);
  assert.deepEqual(await counted('unanswered'), { total: 300, ids: 300 });
  const reporte = await getJson<Reporte>(`${base}/reporte`);
  assert.equal(reporte.body.total, 600);
});

test('every pooled connection carries the limits, with documented defaults', async () => {
  const store = new PostgresStore(db.url);
  try {
    const c = await store.pool.connect();
    try {
      const show = async (name: string) => (await c.query(`SHOW ${name}`)).rows[0][name];
      assert.equal(await show('statement_timeout'), `${PG_LIMITS.statement_timeout / 1000}s`);
      assert.equal(
        await show('idle_in_transaction_session_timeout'),
        `${PG_LIMITS.idle_in_transaction_session_timeout / 1000}s`,
      );
      const opts = (c as unknown as { connectionParameters: { query_timeout: number; keepalives: number } })
        .connectionParameters;
      assert.equal(opts.query_timeout, PG_LIMITS.query_timeout);
      assert.equal(opts.keepalives, 1, 'TCP keepalive on');
    } finally {
      c.release();
    }
  } finally {
    await store.close();
  }
  // Parameters of the same names in DATABASE_URL override the defaults.
  const url = new URL(db.url);
  url.searchParams.set('statement_timeout', '1234');
  url.searchParams.set('query_timeout', '4321');
  const tuned = new PostgresStore(url.toString());
  try {
    const c = await tuned.pool.connect();
    try {
      assert.equal((await c.query('SHOW statement_timeout')).rows[0].statement_timeout, '1234ms');
      const opts = (c as unknown as { connectionParameters: { query_timeout: unknown } })
        .connectionParameters;
      assert.equal(Number(opts.query_timeout), 4321);
    } finally {
      c.release();
    }
  } finally {
    await tuned.close();
  }
});
