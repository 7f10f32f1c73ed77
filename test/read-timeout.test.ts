// A read never holds its slot for longer than READ_TIMEOUT_MS (src/analytics/reader.ts): past it
// the request is answered 503 read_timeout and the work is stopped for real, so stuck reads
// cannot fill READ_CONCURRENCY and turn every later read into a 503. With SQLite the read worker
// process computing it is killed (a worker thread cannot be stopped inside a SQLite call) and a
// new one takes the next read; with PostgreSQL the server cancels the statement.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { freePort, getJson, sleep, startWarren, testEnv, waitFor, within } from './support/helpers.js';
import { fillDay, get, isoS, NOW_S, readProcesses, running, uncachedReport } from './support/reads.js';
import { apiOn, ev, withStore } from './support/store.js';

function assertTimedOut(r: Awaited<ReturnType<typeof get>>, ms: number): void {
  assert.equal(r.status, 503, r.body);
  assert.equal(r.json?.error, 'read_timeout', r.body);
  assert.match(r.json?.message, new RegExp(`READ_TIMEOUT_MS \\(${ms} ms\\)`), r.body);
  assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After');
}

test('SQLite: a report computed past READ_TIMEOUT_MS answers 503 read_timeout, and its read process is killed', () =>
  withStore('sqlite', async (store) => {
    await fillDay(store, 100_000, 5_000);
    // What one such report costs here; the limit is a tenth of it.
    const t0 = performance.now();
    await store.clientReport({ from: NOW_S - 86_400 + 37, to: NOW_S + 60 });
    const inline = performance.now() - t0;
    assert.ok(inline >= 20, `a cold 24 h report takes ${inline.toFixed(0)} ms here: too small to tell`);
    const timeoutMs = Math.floor(inline / 10);

    const app = apiOn(store, { reads: { concurrency: 1, queue: 4, timeoutMs } });
    assert.deepEqual(readProcesses(), [], 'no read process before the first read');
    // The read processes seen while the report is asked for.
    const seen = new Set<number>();
    let asking = true;
    const watching = (async () => {
      while (asking) {
        for (const pid of readProcesses()) seen.add(pid);
        await sleep(5);
      }
    })();
    const answer = await within('the report to answer', 30_000, get(app, uncachedReport(1)));
    asking = false;
    await watching;
    assertTimedOut(answer, timeoutMs);
    // Killed, not left computing in the background.
    assert.equal(seen.size, 1, 'one read process computed it');
    await waitFor('the read process to be gone', () => [...seen].every((pid) => !running(pid)), 10_000, 20);
    await app.close();
    assert.deepEqual(readProcesses(), [], 'closing the API leaves no read process');
  }));

test('SQLite: reads stuck in their read processes are stopped, the processes replaced, and later reads answer', () =>
  withStore('sqlite', async (store) => {
    await store.commit([ev('a', 'cliente_uno', 'click', isoS(NOW_S - 30))]);
    const timeoutMs = 1500;
    const app = apiOn(store, { reads: { concurrency: 2, queue: 0, timeoutMs } });
    // Two reads at once start both read processes.
    const first = await Promise.all([get(app, uncachedReport(1)), get(app, uncachedReport(2))]);
    assert.deepEqual(
      first.map((r) => r.status),
      [200, 200],
    );
    const stuck = readProcesses();
    assert.equal(stuck.length, 2, `read processes: ${stuck.join(' ')}`);
    // A process that stops answering (here: stopped by a signal) holds what it was computing.
    for (const pid of stuck) process.kill(pid, 'SIGSTOP');
    try {
      const answers = await within(
        'the stuck reads to answer',
        30_000,
        Promise.all([3, 4, 5].map((n) => get(app, uncachedReport(n)))),
      );
      const timedOut = answers.filter((r) => r.json?.error === 'read_timeout');
      const refused = answers.filter((r) => r.json?.error === 'overloaded');
      assert.equal(timedOut.length, 2, answers.map((r) => r.body).join('\n'));
      assert.equal(refused.length, 1, 'the third found no slot and no room to wait');
      for (const r of timedOut) assertTimedOut(r, timeoutMs);
      await waitFor('the stuck processes to be gone', () => stuck.every((pid) => !running(pid)), 10_000, 20);
      // Both slots answer again, from new processes.
      const later = await Promise.all([get(app, uncachedReport(6)), get(app, uncachedReport(7))]);
      assert.deepEqual(
        later.map((r) => r.status),
        [200, 200],
        later.map((r) => r.body).join('\n'),
      );
      assert.equal(later[0]?.json?.total, 1);
      const now = readProcesses();
      assert.equal(now.length, 2);
      assert.ok(
        now.every((pid) => !stuck.includes(pid)),
        'new processes',
      );
    } finally {
      for (const pid of stuck) if (running(pid)) process.kill(pid, 'SIGCONT');
      await app.close();
    }
  }));

test('PostgreSQL: a read waiting past READ_TIMEOUT_MS is cancelled on the server; later reads answer', () =>
  withStore('postgres', async (store, db) => {
    await store.commit([ev('a', 'cliente_uno', 'click', isoS(NOW_S - 30))]);
    const timeoutMs = 1000;
    const app = apiOn(store, { reads: { concurrency: 1, queue: 0, timeoutMs } });
    // Another session holds a lock the read needs (a migration, a VACUUM FULL, a stuck session).
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE client_totals IN ACCESS EXCLUSIVE MODE');
      assertTimedOut(await within('the read to answer', 30_000, get(app, '/reporte')), timeoutMs);
      // Nothing of the read is left waiting on the server.
      await waitFor(
        'the read statement to be cancelled',
        async () => {
          const r = await holder.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          );
          return r.rows[0].n === 0;
        },
        10_000,
        50,
      );
      await holder.query('ROLLBACK');
      const later = await get(app, '/reporte');
      assert.equal(later.status, 200, later.body);
      assert.equal(later.json?.total, 1);
    } finally {
      await holder.end();
      await app.close();
    }
  }));

test('a read worker process does not outlive analytics: kill -9 of analytics takes it down too', async () => {
  const env = testEnv('readkill');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const analytics = await startWarren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) }, base);
  try {
    // The first report starts a read worker process (the built one: dist/analytics/read-worker.js).
    assert.equal((await getJson(`${base}/reporte`)).status, 200);
    const pid = analytics.child.pid ?? 0;
    const readers = readProcesses(pid);
    assert.equal(readers.length, 1, `read processes of analytics: ${readers.join(' ')}`);
    await analytics.kill('SIGKILL');
    await waitFor(
      'the read process to go with analytics',
      () => readers.every((r) => !running(r)),
      10_000,
      50,
    );
  } finally {
    await analytics.kill('SIGKILL');
    await env.cleanup();
  }
});
