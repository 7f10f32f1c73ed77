// A rollup running while users of the same hour are still being committed loses no user and
// counts none twice: at the end, the sketches of the hour are byte for byte the sketch of its
// users. On PostgreSQL the writers and the runner are separate pools, so a commit's
// insert-or-lock of a minute sketch really races the step that deletes it (uniques.ts retries).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ParsedEvent } from '../src/event.js';
import { retentionPass, Sketch, type Store, sketchOf, userKey } from '../src/store/index.js';
import { waitFor } from './support/helpers.js';
import { AT_NOW, CUT, HOUR, isoS, kinds, NOW, SETTINGS } from './support/retention-helpers.js';
import { type Db, ev, withDb } from './support/store.js';

// An hour old enough to be rolled up, so every commit into it races the runner.
const H = CUT.minute - 24 * HOUR;
const WRITERS = 3;
const BATCHES = 30;
const PER_BATCH = 40;

/** Batch i of writer w: its own ids plus ids every writer sends (a redelivery race), with users. */
function batch(w: number, i: number): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  for (let j = 0; j < PER_BATCH; j++) {
    const shared = j < 5;
    const id = shared ? `shared-${i}-${j}` : `w${w}-${i}-${j}`;
    const t = H + (j % 5) * 60 + ((i * 7) % 60);
    const e = ev(id, `cliente_${j % 2}`, j % 3 === 0 ? 'view' : 'click', isoS(t));
    // A few users come back in many batches; most are new. Enough in all for dense sketches.
    // A shared id is one event: the same user whichever writer commits it first.
    const usuario = j % 4 === 0 ? `regular-${j}` : shared ? `u-${i}-${j}` : `u-${w}-${i}-${j}`;
    out.push({ ...e, usuario });
  }
  return out;
}

/** The hour's sketches of one family, every level, merged. */
async function hourSketch(db: Db, store: Store, family: string): Promise<Sketch> {
  const out = new Sketch();
  for (const level of ['minute', 'hour', 'day']) {
    const tbl = `uniques_${family}${level}`;
    const rows = await db.sql(store, `SELECT sketch FROM ${tbl} WHERE t >= ${H} AND t < ${H + HOUR}`);
    for (const r of rows) out.merge(Sketch.deserialize(r.sketch as Buffer));
  }
  return out;
}

for (const kind of kinds) {
  describe(`uniques while rolling up: ${kind}`, () => {
    test("the hour's sketches end as the sketch of its users", () =>
      withDb(kind, AT_NOW, async (db) => {
        const writers: Store[] = [];
        for (let w = 0; w < WRITERS; w++) writers.push(await db.open());
        const runner = await db.open();
        let writing = true;
        let moved = 0;
        const written = Promise.all(
          writers.map(async (s, w) => {
            for (let i = 0; i < BATCHES; i++) {
              if (i === BATCHES / 2) await waitFor('a rollup step on the hour', () => moved > 0, 30_000, 5);
              await s.commit(batch(w, i));
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
        await retentionPass(runner, SETTINGS, { now: NOW });

        const users = new Set<string>();
        for (let w = 0; w < WRITERS; w++) {
          for (let i = 0; i < BATCHES; i++)
            for (const e of batch(w, i)) users.add(userKey(e.cliente, e.usuario!));
        }
        const want = sketchOf(users).serialize().toString('hex');
        assert.ok(users.size > 2500, 'dense: registers, not a set of hashes');
        for (const family of ['', 'evento_']) {
          assert.equal(
            (await hourSketch(db, runner, family)).serialize().toString('hex'),
            want,
            family || 'cliente',
          );
          const [m] = await db.sql(
            runner,
            `SELECT COUNT(*) AS n FROM uniques_${family}minute WHERE t >= ${H} AND t < ${H + HOUR}`,
          );
          assert.equal(Number(m!.n), 0, 'the whole hour is in the hour sketches now');
        }
        assert.equal(
          (await runner.uniques({ from: H, to: H + HOUR })).usuarios,
          Math.round(sketchOf(users).estimate()),
        );
      }));
  });
}
