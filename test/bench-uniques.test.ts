// The unique-users bench stage: its exact counts are the store's own semantics (a bucket belongs to
// a range by its start, old data in hour and day buckets), checked against both stores where the
// sketches are exact (under 2,500 users); and `warren bench --quick --only uniques` writes every
// `uniques.*` figure, with errors measured from real answers. No figure is checked (STYLE.md 13).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Progress } from '../src/bench/progress.js';
import { UNIQUES_RETENTION } from '../src/bench/uniques.js';
import {
  clienteName,
  ExactCounter,
  eventoName,
  generate,
  type RangeQuery,
} from '../src/bench/uniques-data.js';
import { bucketStartOf, fillUniques, rollUp } from '../src/bench/uniques-fill.js';
import type { uniquesJson } from '../src/bench/uniques-report.js';
import { testEnv, warren } from './support/helpers.js';
import { kinds, withStore } from './support/store.js';

const quiet = { update: () => undefined } as unknown as Progress;
const DAY = 86_400_000;
const dayStart = (ms: number) => ms - (ms % DAY);

function finite(value: unknown, key: string): void {
  assert.equal(typeof value, 'number', `${key} is ${JSON.stringify(value)}, not a number`);
  assert.ok(Number.isFinite(value), `${key} is not finite`);
}

describe('bench uniques: exact counts', () => {
  for (const kind of kinds) {
    it(`match ${kind.name}'s answers where its sketches are exact`, { timeout: 120_000 }, async () => {
      const now = Math.floor(Date.now() / 60_000) * 60_000;
      const data = generate({ events: 3000, users: 1500, clients: 7, types: 3, days: 90, seed: 5, now });
      await withStore(kind, async (store) => {
        await fillUniques(store, data, quiet, kind.name);
        const start = await rollUp(store, data, UNIQUES_RETENTION);
        const exact = new ExactCounter(data, start);
        // Bounds inside old hours and days: events there count only if their bucket starts in range.
        const queries: RangeQuery[] = [
          { label: 'all', from: now - 90 * DAY, to: now },
          // 07:01 UTC of the day 60 days ago (a day bucket), whatever the time of day now: 17 hours of
          // that day's events lie after the bound, which the day-bucket rule leaves out.
          {
            label: 'mid-day',
            from: dayStart(now - 60 * DAY) + 7 * 3_600_000 + 60_000,
            to: now - 20 * 60_000,
          },
          { label: 'mid-hour', from: now - 10 * DAY + 17 * 60_000, to: now - 3 * DAY + 29 * 60_000 },
          { label: 'client', from: now - 45 * DAY, to: now, cliente: 3 },
          { label: 'evento', from: now - 45 * DAY + 60_000, to: now - DAY, evento: 1 },
        ];
        let nonTrivial = 0;
        for (const q of queries) {
          const want = exact.count(q);
          const got = await store.uniques({
            from: q.from / 1000,
            to: q.to / 1000,
            ...(q.cliente === undefined ? {} : { cliente: clienteName(q.cliente) }),
            ...(q.evento === undefined ? {} : { evento: eventoName(q.evento) }),
          });
          assert.equal(got.usuarios, want, `${q.label}: the store says ${got.usuarios}, exact ${want}`);
          if (want > 100) nonTrivial++;
        }
        assert.ok(nonTrivial >= 3, 'the ranges hold users');
        // The bucket rule matters: a range starting inside an old day has fewer than its events' users.
        const naive = new ExactCounter(data, (ms) => ms);
        const q = queries[1]!;
        assert.notEqual(naive.count(q), exact.count(q), 'the day-bucket rule changes the count');
      });
    });
  }

  it('bucketStartOf puts minutes, hours and days where the retention pass does', () => {
    const nowS = 1_700_000_040;
    const at = bucketStartOf(nowS, UNIQUES_RETENTION);
    const t = nowS * 1000;
    const x = t - 3_600_000 - 90_000; // an hour ago: a minute bucket
    assert.equal(at(x), x - (x % 60_000));
    const y = t - 5 * DAY + 1_234_567; // 5 days ago: an hour bucket
    assert.equal(at(y), y - (y % 3_600_000));
    const z = t - 60 * DAY + 1_234_567; // 60 days ago: a day bucket
    assert.equal(at(z), z - (z % DAY));
  });
});

describe('warren bench --quick --only uniques', () => {
  const t = testEnv('benchuq');
  after(() => t.cleanup());

  it('refuses fewer events than users, naming both flags', async () => {
    const p = warren(['bench', '--only', 'uniques', '--uniques-users', '5000', '--uniques-events', '4000']);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /--uniques-events \(4000\) must be at least --uniques-users \(5000\)/);
  });

  it('writes the uniques figures at the size asked, errors measured against exact counts', {
    timeout: 240_000,
  }, async () => {
    const file = join(t.dir, 'bench.json');
    // --uniques-users/--uniques-events size the data (the full size is issue #19's 1M users).
    const p = warren(
      [
        'bench',
        '--quick',
        '--only',
        'uniques',
        '--uniques-users',
        '4500',
        '--uniques-events',
        '6500',
        '--json',
        file,
      ],
      { LOG_LEVEL: 'warn' },
    );
    const code = await p.exited;
    assert.equal(code, 0, `warren bench exited ${code}:\n${p.output().slice(-3000)}`);
    assert.match(p.stdout(), /uniques error p95 \(sqlite\)/);
    assert.match(p.stdout(), /uniques 90 d query p95 \(postgres\)/);
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      uniques: NonNullable<ReturnType<typeof uniquesJson>>;
      errors: unknown[];
    };
    assert.deepEqual(json.errors, []);
    const u = json.uniques;
    assert.equal(u.data.users, 4500, 'the data has the users asked for');
    assert.equal(u.data.events, 6500, 'the data has the events asked for');
    finite(u.error_p95, 'uniques.error_p95');
    finite(u.error_max, 'uniques.error_max');
    finite(u.amqp_ratio_usuario, 'uniques.amqp_ratio_usuario');
    for (const kind of ['sqlite', 'postgres']) {
      const q = u.query_ms[kind]!;
      finite(q.one_client_90d_p95, `uniques.query_ms.${kind}.one_client_90d_p95`);
      finite(q.all_clients_90d_p95, `uniques.query_ms.${kind}.all_clients_90d_p95`);
      finite(q.first_ms, `uniques.query_ms.${kind}.first_ms`);
      finite(u.store_bytes_per_million_events[kind]!, `store_bytes_per_million_events.${kind}`);
      finite(
        u.store_bytes_compact_per_million_events[kind]!,
        `store_bytes_compact_per_million_events.${kind}`,
      );
      for (const level of ['minute', 'hour', 'day'] as const) {
        finite(u.sketch_bytes_per_bucket[kind]![level].avg, `sketch_bytes_per_bucket.${kind}.${level}.avg`);
        finite(u.sketch_bytes_per_bucket[kind]![level].p95, `sketch_bytes_per_bucket.${kind}.${level}.p95`);
      }
      // Errors come from answers: some of them above the sparse limit, where HLL estimates.
      const e = u.error_by_store[kind]!;
      assert.ok(e.answers >= 10, `${kind}: ${e.answers} answers compared`);
      assert.ok(e.dense >= 1, `${kind}: no answer above 2,500 users`);
      assert.ok(e.max >= e.p95 && e.p95 >= 0);
    }
  });
});
