// Distinct users (usuario) on both stores: small sets are exact, a large set is within the
// sketch's error, a redelivered or copied event changes no sketch, concurrent commits on
// PostgreSQL lose no user, and rollups keep the union exact (the merged sketches of a range are
// byte for byte the sketch of its users).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ParsedEvent, parse } from '../src/event.js';
import { type Filter, retentionPass, Sketch, type Store, sketchOf, userKey } from '../src/store/index.js';
import { waitFor } from './support/helpers.js';
import { apiOn, type Db, iso, kinds, withStore } from './support/store.js';

function uev(id: string, cliente: string, evento: string, ms: number, usuario?: string): ParsedEvent {
  const timestamp = new Date(ms).toISOString();
  const r = parse(
    usuario === undefined ? { id, cliente, evento, timestamp } : { id, cliente, evento, timestamp, usuario },
  );
  if (!r.ok) throw new Error(`test event is invalid: ${JSON.stringify(r.problems)}`);
  return r.event;
}

const T0 = Date.UTC(2025, 3, 13, 0, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The exact answer: distinct (cliente, usuario) pairs of the events matching the filter. */
function exact(events: ParsedEvent[], f: Filter): number {
  const users = new Set<string>();
  for (const e of events) {
    const t = Math.floor(e.ms / 1000);
    if (e.usuario === undefined) continue;
    if (f.from !== undefined && t < f.from) continue;
    if (f.to !== undefined && t >= f.to) continue;
    if (f.cliente !== undefined && e.cliente !== f.cliente) continue;
    if (f.evento !== undefined && e.evento !== f.evento) continue;
    users.add(userKey(e.cliente, e.usuario));
  }
  return users.size;
}

/** A deterministic mix: 3 clients, 3 event types, users shared across minutes and event types. */
function dataset(n: number, users: number, spanMs: number, seed = 1): ParsedEvent[] {
  let x = seed;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const out: ParsedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const cliente = ['cliente_uno', 'cliente_dos', 'cliente_tres'][Math.floor(rnd() * 3)]!;
    const evento = ['click', 'view', 'purchase'][Math.floor(rnd() * 3)]!;
    // Every tenth event has no user: counted, adds nobody.
    const usuario = i % 10 === 9 ? undefined : `user-${Math.floor(rnd() * users)}`;
    out.push(uev(`e${seed}-${i}`, cliente, evento, T0 + Math.floor(rnd() * spanMs), usuario));
  }
  return out;
}

async function commitAll(store: Store, events: ParsedEvent[], batch = 500): Promise<void> {
  for (let i = 0; i < events.length; i += batch) await store.commit(events.slice(i, i + batch));
}

const s = (ms: number) => Math.floor(ms / 1000);
const FILTERS: Record<string, Filter> = {
  'all time': {},
  'one client': { cliente: 'cliente_uno' },
  'one event type': { evento: 'view' },
  'client and event type': { cliente: 'cliente_dos', evento: 'click' },
  'a range of minutes': { from: s(T0 + 7 * MIN), to: s(T0 + 93 * MIN) },
  'a range and a client': { from: s(T0 + HOUR), to: s(T0 + 2 * HOUR), cliente: 'cliente_tres' },
};

/** Every stored sketch whose bucket starts in [from, to), merged (both families' tables by name). */
async function mergedRaw(db: Db, store: Store, tables: string[], from: number, to: number): Promise<Sketch> {
  const out = new Sketch();
  for (const tbl of tables) {
    for (const r of await db.sql(store, `SELECT sketch FROM ${tbl} WHERE t >= ${from} AND t < ${to}`)) {
      out.merge(Sketch.deserialize(r.sketch as Buffer));
    }
  }
  return out;
}

async function sketchTables(db: Db, store: Store): Promise<string[]> {
  const out: string[] = [];
  for (const tbl of ['uniques_minute', 'uniques_evento_minute', 'uniques_hour', 'uniques_day']) {
    const rows = await db.sql(store, `SELECT t, cliente, sketch FROM ${tbl}`);
    for (const r of rows)
      out.push(`${tbl} ${Number(r.t)} ${r.cliente} ${(r.sketch as Buffer).toString('hex')}`);
  }
  return out.sort();
}

for (const kind of kinds) {
  describe(`uniques: ${kind.name}`, () => {
    test('small sets are counted exactly, in total and per bucket; events without usuario add nobody', () =>
      withStore(kind, async (store) => {
        const events = dataset(1500, 120, 3 * HOUR);
        await commitAll(store, events, 200);
        for (const [name, f] of Object.entries(FILTERS)) {
          assert.equal((await store.uniques(f)).usuarios, exact(events, f), name);
        }
        const hourly = await store.uniques({ cliente: 'cliente_uno' }, 'hour');
        assert.deepEqual(
          hourly.points?.map((p) => `${iso(p.t)}=${p.usuarios}`),
          [0, 1, 2].map((h) => {
            const from = s(T0 + h * HOUR);
            return `${iso(from)}=${exact(events, { cliente: 'cliente_uno', from, to: from + 3600 })}`;
          }),
        );
        // The same user in two clients is two users (users are scoped per client, like ids).
        const [a, b] = [uev('x1', 'c_a', 'click', T0, 'same'), uev('x1', 'c_b', 'click', T0, 'same')];
        await store.commit([a, b]);
        assert.equal(
          (await store.uniques({ evento: 'click', from: s(T0), to: s(T0) + 60 })).usuarios,
          exact([...events, a, b], { evento: 'click', from: s(T0), to: s(T0) + 60 }),
        );
        const perClient = await store.clientUniques({});
        assert.equal(perClient.get('c_a'), 1);
        assert.equal(perClient.get('cliente_uno'), exact(events, { cliente: 'cliente_uno' }));
        // A client whose events carry no usuario has no line; an empty range has no user.
        await store.commit([uev('n1', 'c_none', 'click', T0, undefined)]);
        assert.equal((await store.clientUniques({})).has('c_none'), false);
        assert.deepEqual(await store.uniques({ from: s(T0 - DAY), to: s(T0 - HOUR) }, 'minute'), {
          usuarios: 0,
          points: [],
        });
      }));

    test('a redelivered or copied event changes no sketch', () =>
      withStore(kind, async (store, db) => {
        const events = dataset(600, 3000, 20 * MIN, 7);
        await commitAll(store, events, 300);
        const before = await sketchTables(db, store);
        const total = (await store.uniques({})).usuarios;
        // Redelivery of whole batches, and copies of the same ids carrying other users.
        await commitAll(store, events, 300);
        const copies = events.map((e) => ({ ...e, usuario: `intruder-${e.id}` }));
        assert.deepEqual(await store.commit(copies), { counted: 0, duplicates: copies.length, withoutId: 0 });
        assert.deepEqual(await sketchTables(db, store), before);
        assert.equal((await store.uniques({})).usuarios, total);
        assert.equal(total, exact(events, {}));
      }));

    test('a large set is within 2% of the exact count', () =>
      withStore(kind, async (store) => {
        const events = dataset(60_000, 40_000, 2 * DAY, 3);
        await commitAll(store, events, 2000);
        for (const f of [{}, { cliente: 'cliente_dos' }, { evento: 'purchase', from: s(T0 + DAY) }]) {
          const want = exact(events, f);
          const got = (await store.uniques(f)).usuarios;
          assert.ok(want > 2500, 'large enough to be dense');
          assert.ok(Math.abs(got - want) / want <= 0.02, `${JSON.stringify(f)}: ${got} for ${want}`);
        }
      }));

    test('rollups merge minute sketches into hours and days; the union stays exact', () =>
      withStore(kind, async (store, db) => {
        const events = dataset(12_000, 5000, 4 * DAY, 5);
        await commitAll(store, events, 1000);
        const ranges = [0, 1, 2, 3].map((d) => [s(T0 + d * DAY), s(T0 + (d + 1) * DAY)] as const);
        const clientTables = ['uniques_minute', 'uniques_hour', 'uniques_day'];
        const eventoTables = clientTables.map((t) => t.replace('uniques_', 'uniques_evento_'));
        const usersIn = (from: number, to: number) =>
          events
            .filter((e) => e.usuario !== undefined && s(e.ms) >= from && s(e.ms) < to)
            .map((e) => userKey(e.cliente, e.usuario as string));
        const answers = async () =>
          Promise.all(
            [...ranges, [s(T0), s(T0 + 4 * DAY)] as const].map(async ([from, to]) => [
              (await store.uniques({ from, to })).usuarios,
              (await store.uniques({ from, to, evento: 'view' })).usuarios,
            ]),
          );
        const before = await answers();
        // Minutes older than the last day roll into hours, hours older than two days into days.
        const now = s(T0 + 4 * DAY);
        const pass = await retentionPass(
          store,
          { dedupeWindowDays: 10_000, minuteRetentionHours: 24, hourRetentionDays: 2 },
          { now, batch: 97 },
        );
        assert.ok(pass.minuteRows > 0 && pass.hourRows > 0, JSON.stringify(pass));
        const levels = await db.sql(
          store,
          "SELECT 'm' AS l, COUNT(*) AS n FROM uniques_minute WHERE t < " +
            `${now - 86_400} UNION ALL SELECT 'h', COUNT(*) FROM uniques_hour UNION ALL SELECT 'd', COUNT(*) FROM uniques_day`,
        );
        assert.deepEqual(
          levels.map((r) => [r.l, Number(r.n) > 0]),
          [
            ['m', false],
            ['h', true],
            ['d', true],
          ],
          'old minute sketches moved up',
        );
        assert.deepEqual(await answers(), before, 'every day-aligned answer is unchanged');
        for (const [from, to] of [...ranges, [s(T0), now] as const]) {
          const users = usersIn(from, to);
          assert.equal(
            (await mergedRaw(db, store, clientTables, from, to)).serialize().toString('hex'),
            sketchOf(users).serialize().toString('hex'),
            `client sketches of ${iso(from)}: the sketch of the union`,
          );
          assert.equal(
            (await mergedRaw(db, store, eventoTables, from, to)).serialize().toString('hex'),
            sketchOf(users).serialize().toString('hex'),
            `event sketches of ${iso(from)}: the sketch of the union`,
          );
        }
        const again = await retentionPass(
          store,
          { dedupeWindowDays: 10_000, minuteRetentionHours: 24, hourRetentionDays: 2 },
          { now },
        );
        assert.deepEqual([again.minuteRows, again.hourRows], [0, 0]);
      }));

    test('GET /api/v1/uniques answers the range, per bucket with bucket, and refuses a bad query', () =>
      withStore(kind, async (store) => {
        const events = dataset(800, 60, 3 * HOUR, 13);
        await commitAll(store, events, 400);
        const app = apiOn(store);
        try {
          const from = s(T0 + HOUR);
          const to = s(T0 + 3 * HOUR);
          const q = `from=${iso(from)}&to=${iso(to)}&cliente=cliente_uno&evento=view`;
          const plain = await app.inject({ url: `/api/v1/uniques?${q}` });
          assert.equal(plain.statusCode, 200, plain.body);
          const f = { from, to, cliente: 'cliente_uno', evento: 'view' };
          assert.deepEqual(plain.json(), { from: iso(from), to: iso(to), usuarios: exact(events, f) });
          const hourly = await app.inject({ url: `/api/v1/uniques?${q}&bucket=hour` });
          assert.deepEqual(hourly.json(), {
            from: iso(from),
            to: iso(to),
            bucket: 'hour',
            usuarios: exact(events, f),
            points: [from, from + 3600].map((t) => ({
              t: iso(t),
              usuarios: exact(events, { ...f, from: t, to: t + 3600 }),
            })),
          });
          // Kept like the reports: a commit without users leaves the answer as it is; one that
          // brings a user into the range makes it be computed again.
          const n = exact(events, f);
          const ask = async () => {
            const r = await app.inject({ url: `/api/v1/uniques?${q}` });
            return [r.headers['x-cache'], (r.json() as { usuarios: number }).usuarios];
          };
          assert.deepEqual(await ask(), ['hit', n]);
          await store.commit([uev('k1', 'cliente_uno', 'view', T0 + HOUR + MIN, undefined)]);
          assert.deepEqual(await ask(), ['update', n]);
          await store.commit([uev('k2', 'cliente_uno', 'view', T0 + HOUR + MIN, 'newcomer')]);
          assert.deepEqual(await ask(), ['miss', n + 1]);
          events.push(uev('k2', 'cliente_uno', 'view', T0 + HOUR + MIN, 'newcomer'));
          const all = await app.inject({ url: '/api/v1/uniques' });
          assert.deepEqual(all.json(), { from: null, to: null, usuarios: exact(events, {}) });
          const bad = await app.inject({ url: '/api/v1/uniques?bucket=week' });
          assert.equal(bad.statusCode, 400);
          assert.equal(bad.json().error, 'invalid_query');
          const badClient = await app.inject({ url: '/api/v1/uniques?cliente=no%20spaces' });
          assert.equal(badClient.statusCode, 400);
        } finally {
          await app.close();
        }
      }));

    test('GET /api/v1/report gives usuarios per client, never a stale one from the cache', () =>
      withStore(kind, async (store) => {
        const events = dataset(900, 80, 2 * HOUR, 17);
        await commitAll(store, events, 300);
        await store.commit([uev('plain', 'c_plain', 'click', T0, undefined)]);
        const app = apiOn(store);
        const report = async (q = '') => {
          const r = await app.inject({ url: `/api/v1/report${q}` });
          assert.equal(r.statusCode, 200, r.body);
          const body = r.json() as { clientes: { cliente: string; usuarios?: number }[] };
          return {
            cache: r.headers['x-cache'],
            users: Object.fromEntries(body.clientes.map((c) => [c.cliente, c.usuarios ?? null])),
          };
        };
        const want = (all: ParsedEvent[], f: Filter = {}) =>
          Object.fromEntries(
            ['cliente_uno', 'cliente_dos', 'cliente_tres', 'c_plain']
              .filter((c) => all.some((e) => e.cliente === c && inRange(e, f)))
              .map((c) => {
                const n = exact(all, { ...f, cliente: c });
                return [c, n === 0 ? null : n];
              }),
          );
        const inRange = (e: ParsedEvent, f: Filter) =>
          (f.from === undefined || s(e.ms) >= f.from) && (f.to === undefined || s(e.ms) < f.to);
        try {
          const all = [...events, uev('plain', 'c_plain', 'click', T0, undefined)];
          assert.deepEqual((await report()).users, want(all));
          const first = `?from=${iso(s(T0))}&to=${iso(s(T0 + HOUR))}`;
          const firstHour = { from: s(T0), to: s(T0 + HOUR) };
          assert.deepEqual((await report(first)).users, want(all, firstHour));
          // New users in the second hour: the all-time answer is computed again; the first hour's
          // answer is untouched by them and stays kept.
          const more = [
            uev('m1', 'cliente_uno', 'click', T0 + HOUR + MIN, 'brand-new-1'),
            uev('m2', 'cliente_dos', 'view', T0 + HOUR + MIN, 'brand-new-2'),
          ];
          await store.commit(more);
          all.push(...more);
          const again = await report();
          assert.deepEqual(again.users, want(all));
          assert.equal(again.cache, 'miss');
          const kept = await report(first);
          assert.deepEqual(kept.users, want(all, firstHour));
          assert.notEqual(kept.cache, 'miss');
          // A commit without users is added to a kept answer as before.
          await store.commit([uev('p2', 'cliente_uno', 'click', T0 + HOUR + MIN, undefined)]);
          all.push(uev('p2', 'cliente_uno', 'click', T0 + HOUR + MIN, undefined));
          const counted = await report();
          assert.deepEqual(counted.users, want(all));
          assert.equal(counted.cache, 'update');
        } finally {
          await app.close();
        }
      }));

    if (kind.name === 'postgres') {
      test('a sketch row a rollup deletes while a commit waits to merge into it is written again', () =>
        withStore(kind, async (store, db) => {
          const m = s(T0);
          await store.commit([uev('a', 'cliente_uno', 'click', T0, 'ana')]);
          const { default: pg } = await import('pg');
          const rollup = new pg.Client({ connectionString: db.url });
          await rollup.connect();
          try {
            // As a rollup step does: lock the minute sketch, so the commit below waits on it.
            await rollup.query('BEGIN');
            await rollup.query(`SELECT sketch FROM uniques_minute WHERE t = ${m} FOR UPDATE`);
            const committing = store.commit([uev('b', 'cliente_uno', 'click', T0 + 1000, 'bo')]);
            // Asked on another connection: inside the step's transaction pg_stat_activity is a
            // snapshot taken at its first read.
            await waitFor(
              'the commit waiting on the locked sketch',
              async () =>
                (
                  await db.sql(
                    store,
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%uniques_minute%FOR UPDATE%'",
                  )
                ).length === 1,
              5_000,
              20,
            );
            // The step deletes the row and moves its sketch up a level, then commits.
            const moved = await rollup.query(
              `DELETE FROM uniques_minute WHERE t = ${m} RETURNING cliente, sketch`,
            );
            await rollup.query('INSERT INTO uniques_hour (t, cliente, sketch) VALUES ($1, $2, $3)', [
              m,
              moved.rows[0].cliente,
              moved.rows[0].sketch,
            ]);
            await rollup.query('COMMIT');
            assert.deepEqual(await committing, { counted: 1, duplicates: 0, withoutId: 0 });
          } finally {
            await rollup.end();
          }
          const minute = await db.sql(store, `SELECT sketch FROM uniques_minute WHERE t = ${m}`);
          assert.equal(minute.length, 1, 'the commit wrote its sketch again');
          assert.equal(Sketch.deserialize(minute[0]!.sketch as Buffer).estimate(), 1);
          assert.equal((await store.uniques({ cliente: 'cliente_uno' })).usuarios, 2);
        }));

      test('concurrent commits into the same buckets lose no user', () =>
        withStore(kind, async (store, db) => {
          const other = db.connect();
          const events = dataset(4000, 3500, 5 * MIN, 11);
          const half = (k: number) => events.filter((_, i) => i % 2 === k);
          await Promise.all([commitAll(store, half(0), 100), commitAll(other, half(1), 100)]);
          for (const [name, f] of Object.entries(FILTERS)) {
            assert.equal(
              (await store.uniques(f)).usuarios,
              Math.round((await mergedOf(events, f)).estimate()),
              name,
            );
          }
        }));
    }
  });
}

/** The sketch of the filter's users, built in memory: what the stores must hold. */
async function mergedOf(events: ParsedEvent[], f: Filter): Promise<Sketch> {
  return sketchOf(
    events
      .filter(
        (e) =>
          e.usuario !== undefined &&
          (f.from === undefined || s(e.ms) >= f.from) &&
          (f.to === undefined || s(e.ms) < f.to) &&
          (f.cliente === undefined || e.cliente === f.cliente) &&
          (f.evento === undefined || e.evento === f.evento),
      )
      .map((e) => userKey(e.cliente, e.usuario as string)),
  );
}
