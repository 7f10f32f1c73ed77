// A rollup running while events of the same hour are still being counted keeps every total exact.
// On PostgreSQL the writers and the runner are separate pools, so commits and rollup steps really
// overlap on the same counter rows (row locks, DELETE ... RETURNING, ON CONFLICT); on SQLite they
// take turns on the file lock between awaits. Several writers also commit the same ids at once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ParsedEvent } from '../src/event.js';
import { retentionPass, type Store } from '../src/store/index.js';
import { waitFor } from './support/helpers.js';
import { AT_NOW, CUT, HOUR, isoS, kinds, NOW, SETTINGS } from './support/retention-helpers.js';
import { ev, rows, withDb } from './support/store.js';

// An hour old enough to be rolled up, so every commit into it races the runner.
const H = CUT.minute - 24 * HOUR;
const WRITERS = 3;
const BATCHES = 40;
const PER_BATCH = 25;

/** Batch i of writer w: its own ids plus ids every writer sends in batch i (a redelivery race). */
function batch(w: number, i: number): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  for (let j = 0; j < PER_BATCH; j++) {
    const shared = j < 5;
    const id = shared ? `shared-${i}-${j}` : `w${w}-${i}-${j}`;
    // Five minutes, two clients, two event types: twenty hot counter rows.
    const t = H + (j % 5) * 60 + ((i * 7) % 60);
    out.push(ev(id, `cliente_${j % 2}`, j % 3 === 0 ? 'view' : 'click', isoS(t)));
  }
  return out;
}

function oracle(): string[] {
  const seen = new Map<string, ParsedEvent>();
  for (let w = 0; w < WRITERS; w++)
    for (let i = 0; i < BATCHES; i++) for (const e of batch(w, i)) seen.set(e.id!, e);
  const counts = new Map<string, number>();
  for (const e of seen.values())
    counts.set(`${e.cliente}/${e.evento}`, (counts.get(`${e.cliente}/${e.evento}`) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}=${n}`).sort();
}

for (const kind of kinds) {
  describe(`rollup concurrent with counting: ${kind}`, () => {
    test('totals stay exact while the same hour is counted and rolled up', () =>
      withDb(kind, AT_NOW, async (db) => {
        const writers: Store[] = [];
        for (let w = 0; w < WRITERS; w++) writers.push(await db.open());
        const runner = await db.open();
        let writing = true;
        let moved = 0;
        const written = Promise.all(
          writers.map(async (s, w) => {
            for (let i = 0; i < BATCHES; i++) {
              // Half-way, make sure a rollup step has touched the hour: what follows overlaps it.
              if (i === BATCHES / 2) await waitFor('a rollup step on the hour', () => moved > 0, 30_000, 5);
              await s.commit(batch(w, i));
              // Batches arrive from the network: let other work run between them.
              await new Promise((r) => setImmediate(r));
            }
          }),
        ).finally(() => {
          writing = false;
        });
        let passes = 0;
        while (writing) {
          await retentionPass(runner, SETTINGS, {
            now: NOW,
            batch: 3,
            onProgress: (p) => {
              if (p.step === 'minute') moved += p.rows;
            },
          });
          passes++;
        }
        await written;
        assert.ok(passes >= 1 && moved > 0, `the runner overlapped the writers (${passes} passes)`);

        const want = oracle();
        const range = { from: H, to: H + HOUR };
        assert.deepEqual(rows(await runner.report(range)), want, 'mid-way: minutes + hours');
        await retentionPass(runner, SETTINGS, { now: NOW });
        assert.deepEqual(rows(await runner.report(range)), want, 'after the final pass');
        assert.deepEqual(rows(await runner.report({})), want, 'all-time totals');
        const [m] = await db.sql(
          runner,
          `SELECT COUNT(*) AS n FROM counts_minute WHERE t >= ${H} AND t < ${H + HOUR}`,
        );
        assert.equal(Number(m!.n), 0, 'the whole hour is in counts_hour now');
        const [h] = await db.sql(runner, `SELECT SUM(count) AS n FROM counts_hour WHERE t = ${H}`);
        const total = want.reduce((s, r) => s + Number(r.split('=')[1]), 0);
        assert.equal(Number(h!.n), total);
        // The per-bucket series moved with the counters: the unfiltered series says the same.
        const series = await runner.timeseries(range, 'hour');
        assert.deepEqual(
          series.map((p) => [Number(p.t), Number(p.count)]),
          [[H, total]],
        );
        const [z] = await db.sql(
          runner,
          `SELECT COUNT(*) AS n FROM series_minute WHERE t >= ${H} AND t < ${H + HOUR}`,
        );
        assert.equal(Number(z!.n), 0, 'no emptied series rows are left behind');
      }));
  });
}
