// Analytics: event-time buckets, settings, and staying up while RabbitMQ or the store is away.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Reporte } from '../src/analytics/index.js';
import {
  freePort,
  getJson,
  PG_URL,
  publishRaw,
  queueDepth,
  type TestEnv,
  testEnv,
  untilReady,
  waitFor,
  warren,
} from './support/helpers.js';
import { TcpProxy } from './support/tcp-proxy.js';

const ev = (id: string, cliente: string, timestamp: string, evento = 'click') =>
  JSON.stringify({ id, cliente, evento, timestamp });

describe('analytics', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('an');
  });
  after(async () => {
    await env.cleanup();
  });

  it('puts events into UTC minute, hour and day buckets of event time', async () => {
    const port = await freePort();
    const a = warren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      await untilReady(a, base);
      await publishRaw(env.exchange, [
        ev('t1', 'a', '2025-04-13T12:00:00Z'),
        ev('t2', 'a', '2025-04-13T12:00:59.999Z'),
        ev('t3', 'b', '2025-04-13T17:31:10+05:30'), // 12:01:10Z
        ev('t4', 'a', '2025-04-13T12:59:59Z'),
        ev('t5', 'b', '2025-04-13T13:00:00Z', 'view'),
        ev('t6', 'a', '2025-04-13T23:59:59-01:00'), // 2025-04-14T00:59:59Z
        ev('t1', 'a', '2025-04-13T12:00:00Z'), // duplicate id
      ]);
      await waitFor('counted', async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 6);
      const ts = async (q: string) =>
        (
          await getJson<{ bucket: string; points: { t: string; count: number }[] }>(
            `${base}/api/v1/timeseries?${q}`,
          )
        ).body;
      assert.deepEqual((await ts('bucket=minute')).points, [
        { t: '2025-04-13T12:00:00Z', count: 2 },
        { t: '2025-04-13T12:01:00Z', count: 1 },
        { t: '2025-04-13T12:59:00Z', count: 1 },
        { t: '2025-04-13T13:00:00Z', count: 1 },
        { t: '2025-04-14T00:59:00Z', count: 1 },
      ]);
      assert.deepEqual((await ts('bucket=hour')).points, [
        { t: '2025-04-13T12:00:00Z', count: 4 },
        { t: '2025-04-13T13:00:00Z', count: 1 },
        { t: '2025-04-14T00:00:00Z', count: 1 },
      ]);
      assert.deepEqual((await ts('bucket=day')).points, [
        { t: '2025-04-13T00:00:00Z', count: 5 },
        { t: '2025-04-14T00:00:00Z', count: 1 },
      ]);
      // from inclusive, to exclusive; filters by client and event.
      assert.deepEqual((await ts('bucket=hour&from=2025-04-13T12:00:00Z&to=2025-04-13T13:00:00Z')).points, [
        { t: '2025-04-13T12:00:00Z', count: 4 },
      ]);
      assert.deepEqual((await ts('bucket=day&cliente=b&evento=view')).points, [
        { t: '2025-04-13T00:00:00Z', count: 1 },
      ]);
      const report = (
        await getJson(`${base}/api/v1/report?from=2025-04-13T12:01:00Z&to=2025-04-14T00:00:00Z`)
      ).body;
      assert.deepEqual(report, {
        from: '2025-04-13T12:01:00Z',
        to: '2025-04-14T00:00:00Z',
        total: 3,
        clientes: [
          { cliente: 'b', total: 2, eventos: { click: 1, view: 1 } },
          { cliente: 'a', total: 1, eventos: { click: 1 } },
        ],
      });
      const bad = await getJson<{ error: string; message: string }>(`${base}/api/v1/report?from=yesterday`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'invalid_query');
      const injection = await getJson<{ error: string }>(
        `${base}/api/v1/report?cliente=${encodeURIComponent("a' OR 1=1 --")}`,
      );
      assert.equal(injection.status, 400);
      assert.equal((await getJson(`${base}/nope`)).status, 404);
    } finally {
      await a.kill();
    }
  });

  it('stops at start with one line and exit code 2 on a bad setting', async () => {
    for (const [name, value] of [
      ['ANALYTICS_PORT', 'abc'],
      ['QUEUE_TYPE', 'stream'],
      ['AMQP_URL', 'http://x'],
      ['DATABASE_URL', 'mysql://x'],
    ] as const) {
      const p = warren(['analytics'], { ...env.env, [name]: value });
      assert.equal(await p.exited, 2, p.output());
      const lines = p.output().trim().split('\n');
      assert.equal(lines.length, 1, p.output());
      assert.match(lines[0]!, new RegExp(`^warren: ${name} must be `));
    }
  });
});

describe('analytics without its dependencies', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('dep');
  });
  after(async () => {
    await env.cleanup();
  });

  it('stays up while RabbitMQ is unreachable and starts consuming when it comes back', async () => {
    const proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5672 });
    const port = await freePort();
    const a = warren(['analytics'], { ...env.env, AMQP_URL: proxy.url, ANALYTICS_PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitFor('healthz', async () => (await getJson(`${base}/healthz`)).status === 200);
      await waitFor('warning logged', () => a.output().includes('RabbitMQ is not reachable'));
      assert.equal((await getJson(`${base}/readyz`)).status, 503);
      const lines = a
        .output()
        .split('\n')
        .filter((l) => l.includes('not reachable'));
      assert.equal(lines.length, 1, 'one clear line, not one per retry');
      assert.doesNotMatch(a.output(), /\n\s+at /, 'no stack trace');
      await proxy.up();
      await waitFor(
        'ready after the broker came back',
        async () => (await getJson(`${base}/readyz`)).status === 200,
        30_000,
      );
      await publishRaw(env.exchange, [ev('r1', 'a', '2025-04-13T12:00:00Z')]);
      await waitFor('counted', async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 1);
      // Connection dropped under it: it reconnects by itself.
      proxy.cut();
      await waitFor(
        'ready again after a cut',
        async () => (await getJson(`${base}/readyz`)).status === 200,
        30_000,
      );
      await publishRaw(env.exchange, [ev('r2', 'a', '2025-04-13T12:00:00Z')]);
      await waitFor(
        'counted after reconnect',
        async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 2,
      );
    } finally {
      await a.kill();
      await proxy.down();
    }
  });

  it('holds and retries a batch while PostgreSQL is down: nothing acked, nothing dead-lettered', async () => {
    const db = `warren_${env.id}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    const proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5432 });
    await proxy.up();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const a = warren(['analytics'], {
      ...env.env,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${db}`,
      ANALYTICS_PORT: String(port),
    });
    try {
      await untilReady(a, base);
      await publishRaw(env.exchange, [ev('p1', 'a', '2025-04-13T12:00:00Z')]);
      await waitFor(
        'first counted',
        async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 1,
      );
      await proxy.down();
      await publishRaw(
        env.exchange,
        Array.from({ length: 200 }, (_, i) => ev(`q${i}`, 'b', '2025-04-13T12:00:00Z')),
      );
      await waitFor(
        'not ready while the store is down',
        async () => (await getJson(`${base}/readyz`)).status === 503,
        30_000,
      );
      assert.equal(await queueDepth(env.dlq), 0);
      await proxy.up();
      await waitFor('ready again', async () => (await getJson(`${base}/readyz`)).status === 200, 30_000);
      const rep = await waitFor(
        'all counted',
        async () => {
          const r = (await getJson<Reporte>(`${base}/reporte`)).body;
          return r.total === 201 ? r : undefined;
        },
        30_000,
      );
      assert.deepEqual(rep.clientes, { a: 1, b: 200 });
      assert.equal(await queueDepth(env.dlq), 0);
    } finally {
      await a.kill();
      await proxy.down();
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    }
  });
});
