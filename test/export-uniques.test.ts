// The users export (kind=uniques) on both stores, after a rollup spread the sketches over the
// three levels: one line per (cliente, bucket) with that bucket's distinct users, exact against
// the events themselves (small sets are exact in the sketch), with an evento that event type's
// users; the same lines as /api/v1/uniques gives per client; over HTTP as NDJSON and CSV, and
// `warren export --kind uniques` writes them to a file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exportUniquesRowShape } from '../src/analytics/index.js';
import type { ParsedEvent } from '../src/event.js';
import {
  BUCKET_SECONDS,
  type Bucket,
  type Filter,
  retentionPass,
  type Store,
  type UniquesExportRow,
} from '../src/store/index.js';
import { warren } from './support/helpers.js';
import {
  AT_NOW,
  commitAll,
  DAY,
  dataset,
  kinds,
  NOW,
  RANGES,
  random,
  SETTINGS,
} from './support/retention-helpers.js';
import { apiOn, iso, withDb } from './support/store.js';

/** The retention data set, most events with one of 30 users (per client, as the contract says). */
function withUsers(n: number, seed: number): ParsedEvent[] {
  const rnd = random(seed + 1000);
  return dataset(n, seed).map((e, i) => (i % 7 === 6 ? e : { ...e, usuario: `u${Math.floor(rnd() * 30)}` }));
}

/** The exact lines: distinct users per (cliente, day of event time) of the events in the filter. */
function exactByDay(events: ParsedEvent[], f: Filter): string[] {
  const users = new Map<string, Set<string>>();
  for (const e of events) {
    const t = Math.floor(e.ms / 1000);
    if (e.usuario === undefined) continue;
    if (f.from !== undefined && t < f.from) continue;
    if (f.to !== undefined && t >= f.to) continue;
    if (f.cliente !== undefined && e.cliente !== f.cliente) continue;
    if (f.evento !== undefined && e.evento !== f.evento) continue;
    const k = `${iso(Math.floor(t / DAY) * DAY)} ${e.cliente}`;
    const s = users.get(k) ?? new Set<string>();
    users.set(k, s);
    s.add(e.usuario);
  }
  return [...users].map(([k, s]) => `${k}=${s.size}`).sort();
}

async function exported(store: Store, f: Filter, bucket: Bucket): Promise<UniquesExportRow[]> {
  const out: UniquesExportRow[] = [];
  for await (const r of store.exportUniques(f, bucket)) out.push(r);
  return out;
}

const asLines = (list: UniquesExportRow[]) => list.map((r) => `${iso(r.t)} ${r.cliente}=${r.usuarios}`);

/** A day-aligned range across the three levels (minute, hour and day sketches). */
const FROM = Math.floor(NOW / DAY) * DAY - 120 * DAY;
const TO = Math.floor(NOW / DAY) * DAY + DAY;

for (const kind of kinds) {
  describe(`export of users: ${kind}`, () => {
    test('one line per client and bucket, exact per day, the same as /api/v1/uniques per client', () =>
      withDb(kind, AT_NOW, async (db) => {
        const store = await db.open();
        const events = withUsers(3000, 31);
        await commitAll(store, events);
        await retentionPass(store, SETTINGS, { now: NOW });

        const all = { from: FROM, to: TO };
        const days = await exported(store, all, 'day');
        assert.ok(days.length > 50, `enough lines to mean something: ${days.length}`);
        // In order: by bucket, then client in byte order, and each (bucket, client) once.
        const keys = days.map((r) => `${String(r.t).padStart(12, '0')} ${r.cliente}`);
        assert.deepEqual(keys, [...new Set(keys)].sort());
        assert.deepEqual([...asLines(days)].sort(), exactByDay(events, all));
        const click = { ...all, evento: 'click' };
        assert.deepEqual([...asLines(await exported(store, click, 'day'))].sort(), exactByDay(events, click));

        for (const [name, f] of Object.entries(RANGES)) {
          for (const bucket of ['minute', 'hour', 'day'] as const) {
            const list = await exported(store, f, bucket);
            assert.ok(
              list.every((r) => r.t % BUCKET_SECONDS[bucket] === 0),
              `${name}: lines start on ${bucket} buckets`,
            );
            for (const cliente of new Set(list.map((r) => r.cliente))) {
              const api = await store.uniques({ ...f, cliente }, bucket);
              assert.deepEqual(
                list.filter((r) => r.cliente === cliente).map((r) => ({ t: r.t, usuarios: r.usuarios })),
                api.points,
                `${name}, ${bucket}, ${cliente}: the export gives /api/v1/uniques' points`,
              );
            }
          }
        }
      }));
  });
}

describe('export of users over HTTP and from the command line', () => {
  test('GET /api/v1/export?kind=uniques (NDJSON, CSV), a bad kind, and warren export --kind uniques', () =>
    withDb('sqlite', AT_NOW, async (db) => {
      const store = await db.open();
      const events = withUsers(1500, 32);
      await commitAll(store, events);
      await retentionPass(store, SETTINGS, { now: NOW });
      const want = exactByDay(events, { from: FROM, to: TO });
      const range = `from=${iso(FROM)}&to=${iso(TO)}`;
      const app = apiOn(store);
      try {
        const nd = await app.inject({ url: `/api/v1/export?kind=uniques&bucket=day&${range}` });
        assert.equal(nd.statusCode, 200);
        assert.match(String(nd.headers['content-type']), /application\/x-ndjson/);
        const ndLines = nd.body
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as { cliente: string; t: string; usuarios: number });
        assert.deepEqual(Object.keys(ndLines[0] ?? {}), ['cliente', 't', 'usuarios']);
        // Each line is what the OpenAPI document says (shapes.ts, strict: no other field).
        for (const l of ndLines) exportUniquesRowShape.parse(l);
        assert.deepEqual(ndLines.map((r) => `${r.t} ${r.cliente}=${r.usuarios}`).sort(), want);

        const csv = await app.inject({ url: `/api/v1/export?kind=uniques&bucket=day&format=csv&${range}` });
        const [header, ...rest] = csv.body.trimEnd().split('\n');
        assert.equal(header, 'cliente,t,usuarios');
        assert.deepEqual(
          rest
            .map((l) => l.split(','))
            .map(([c, t, u]) => `${t} ${c}=${u}`)
            .sort(),
          want,
        );

        // The counters stay the default kind.
        const counts = await app.inject({ url: `/api/v1/export?bucket=day&${range}` });
        assert.deepEqual(Object.keys(JSON.parse(counts.body.split('\n')[0] ?? '{}')), [
          'cliente',
          'evento',
          't',
          'count',
        ]);

        const bad = await app.inject({ url: '/api/v1/export?kind=users' });
        assert.equal(bad.statusCode, 400);
        assert.match(bad.json<{ message: string }>().message, /"kind" is not valid: counts or uniques/);
      } finally {
        await app.close();
      }

      const dir = mkdtempSync(join(tmpdir(), 'warren-export-'));
      try {
        const file = join(dir, 'users.csv');
        const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
        const args = ['export', '--kind', 'uniques', '--bucket', 'day', '--from', iso(FROM), '--to', iso(TO)];
        const cli = warren([...args, '--format', 'csv', '--out', file], env);
        assert.equal(await cli.exited, 0, cli.output());
        assert.equal(readFileSync(file, 'utf8'), csvOf(await exported(store, { from: FROM, to: TO }, 'day')));
        assert.match(
          cli.stdout(),
          new RegExp(`^wrote ${want.length.toLocaleString('en-US')} rows \\(users per client and bucket,`),
        );
        const badCli = warren(['export', '--kind', 'users', '--out', file], env);
        assert.equal(await badCli.exited, 2, badCli.output());
        assert.match(badCli.output(), /--kind is not valid: counts or uniques/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }));
});

function csvOf(list: UniquesExportRow[]): string {
  return `cliente,t,usuarios\n${list.map((r) => `${r.cliente},${iso(r.t)},${r.usuarios}\n`).join('')}`;
}
