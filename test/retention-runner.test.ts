// Retention runs by itself: inside `warren analytics` every RETENTION_INTERVAL_S while events are
// being counted (SQLite, the real process), and as two runners sharing one PostgreSQL store (the
// advisory lock lets one work at a time). Real clock here: data is placed relative to Date.now().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { Reporte } from '../src/analytics/index.js';
import { RetentionRunner } from '../src/analytics/retention.js';
import type { ParsedEvent } from '../src/event.js';
import { SqliteStore } from '../src/store/index.js';
import { freePort, getJson, publishRaw, testEnv, untilReady, waitFor, warren } from './support/helpers.js';
import { AT_NOW, commitAll, DAY, isoS, random, SETTINGS } from './support/retention-helpers.js';
import { ev, rows, withDb } from './support/store.js';

const nowS = () => Math.floor(Date.now() / 1000);

/** Events 3 to 120 days old: all of them due for a rollup at the default settings. */
function oldEvents(n: number, seed: number): ParsedEvent[] {
  const rnd = random(seed);
  const now = nowS();
  return Array.from({ length: n }, (_, i) =>
    ev(
      `old-${seed}-${i}`,
      `cliente_${i % 4}`,
      i % 2 ? 'click' : 'view',
      isoS(now - 3 * DAY - Math.floor(rnd() * 117 * DAY)),
    ),
  );
}

/** Minute rows older than any MINUTE_RETENTION_HOURS=48 cutoff of the last hour. */
async function oldMinuteRows(sql: (q: string) => Promise<Record<string, unknown>[]>) {
  const cutoff = nowS() - 49 * 3600;
  const [r] = await sql(`SELECT COUNT(*) AS n FROM counts_minute WHERE t < ${cutoff}`);
  return Number(r!.n);
}

describe('retention runner', () => {
  test('warren analytics rolls up by itself while it keeps counting (SQLite)', async () => {
    const env = testEnv('ret');
    const seed = new SqliteStore(env.dbPath);
    await seed.migrate();
    const old = oldEvents(600, 11);
    await commitAll(seed, old);
    const before = rows(await seed.report({}));
    await seed.close();

    const port = await freePort();
    const a = warren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port), RETENTION_INTERVAL_S: '1' });
    const reader = new SqliteStore(env.dbPath, { readonly: true });
    try {
      const base = `http://127.0.0.1:${port}`;
      await untilReady(a, base);
      const now = new Date().toISOString();
      await publishRaw(
        env.exchange,
        Array.from({ length: 50 }, (_, i) =>
          JSON.stringify({ id: `new-${i}`, cliente: 'cliente_0', evento: 'click', timestamp: now }),
        ),
      );
      const sql = async (q: string) => reader.db.prepare(q).all() as Record<string, unknown>[];
      await waitFor('old minutes rolled up', async () => (await oldMinuteRows(sql)) === 0, 30_000);
      await waitFor(
        'new events counted',
        async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 650,
      );
      const [h] = await sql('SELECT COUNT(*) AS n FROM counts_hour');
      assert.ok(Number(h!.n) > 0);
      const after = await reader.report({});
      const withoutNew = after.map((r) =>
        r.cliente === 'cliente_0' && r.evento === 'click' ? { ...r, count: Number(r.count) - 50 } : r,
      );
      assert.deepEqual(rows(withoutNew), before, 'totals are what was counted, nothing more or less');
      assert.match(a.output(), /retention pass done/);
    } finally {
      await reader.close();
      assert.equal(await a.kill('SIGTERM'), 0, a.output());
      await env.cleanup();
    }
  });

  test('two runners on one PostgreSQL store (one works at a time) keep totals exact', () =>
    withDb('postgres', AT_NOW, async (db) => {
      const a = await db.open({});
      const b = await db.open({});
      const old = oldEvents(400, 12);
      await commitAll(a, old);
      const before = rows(await a.report({}));
      const log = pino({ level: 'silent' });
      const settings = { ...SETTINGS, retentionIntervalS: 1 };
      const runners = [
        new RetentionRunner(() => a, settings, log),
        new RetentionRunner(() => b, settings, log),
      ];
      for (const r of runners) r.start();
      try {
        await waitFor(
          'old minutes rolled up',
          async () => (await oldMinuteRows((q) => db.sql(a, q))) === 0,
          30_000,
        );
        assert.deepEqual(rows(await b.report({})), before);
        assert.deepEqual(rows(await b.report({ from: nowS() - 200 * DAY })), before);
      } finally {
        await Promise.all(runners.map((r) => r.stop()));
      }
    }));
});

// README, "Data lifecycle": "every RETENTION_INTERVAL_S (300; 0 turns it off)".
test('RETENTION_INTERVAL_S=0 runs no pass; 1 runs one each second', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(l) });
  const asked = { off: 0, on: 0 };
  // The runner asks for the store at each tick; undefined makes the tick do nothing more.
  const off = new RetentionRunner(
    () => {
      asked.off++;
      return undefined;
    },
    { ...SETTINGS, retentionIntervalS: 0 },
    log,
  );
  const on = new RetentionRunner(
    () => {
      asked.on++;
      return undefined;
    },
    { ...SETTINGS, retentionIntervalS: 1 },
    log,
  );
  off.start();
  on.start();
  t.mock.timers.tick(60_000);
  assert.equal(asked.off, 0, 'RETENTION_INTERVAL_S=0 ran a pass');
  assert.equal(asked.on, 60, `RETENTION_INTERVAL_S=1 ticked ${asked.on} times`);
  assert.ok(lines.some((l) => l.includes('retention is off (RETENTION_INTERVAL_S=0)')));
  return Promise.all([off.stop(), on.stop()]).then(() => undefined);
});
