// Kept report answers brought up to date by the store's own commits (src/analytics/cache.ts,
// views.ts) are the answers a fresh computation gives, byte for byte: after random commits (new
// ids, known ids, events without id, new clients, times across every level), with another
// connection's commits and rollups in between (those make the next answer a miss, computed again).
// Every answer is also checked against counts made in plain JavaScript.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Report } from '../src/analytics/index.js';
import { ReporteView, ReportView, TimeseriesView } from '../src/analytics/views.js';
import type { ParsedEvent } from '../src/event.js';
import { type Bucket, type Filter, retentionPass, type Store } from '../src/store/index.js';
import {
  AT_NOW,
  commitAll,
  DAY,
  dataset,
  expected,
  isoS,
  NOW,
  RANGES,
  random,
  SETTINGS,
} from './support/retention-helpers.js';
import { apiOn, ev, withDb } from './support/store.js';

function query(f: Filter, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (f.from !== undefined) q.set('from', isoS(f.from));
  if (f.to !== undefined) q.set('to', isoS(f.to));
  if (f.cliente !== undefined) q.set('cliente', f.cliente);
  if (f.evento !== undefined) q.set('evento', f.evento);
  return q.toString();
}

interface Ask {
  url: string;
  fresh: (s: Store) => Promise<string>;
  /** Counts per cliente/evento in the answer, compared with the JavaScript oracle. */
  oracle?: { filter: Filter; read: (body: unknown) => string[] };
}

const reportCounts = (body: unknown) =>
  (body as Report).clientes
    .flatMap((c) => Object.entries(c.eventos).map(([e, n]) => `${c.cliente}/${e}=${n}`))
    .sort();

function asks(): Ask[] {
  const out: Ask[] = [
    { url: '/reporte', fresh: async (s) => new ReporteView(await s.clientTotals()).body().toString() },
  ];
  for (const filter of Object.values(RANGES)) {
    out.push({
      url: `/api/v1/report?${query(filter)}`,
      fresh: async (s) => new ReportView(filter, await s.clientReport(filter)).body().toString(),
      oracle: { filter, read: reportCounts },
    });
  }
  const series: [Filter, Bucket][] = [
    [{ from: NOW - 2 * DAY, to: NOW + DAY }, 'minute'],
    [{ from: NOW - 10 * DAY }, 'hour'],
    [{}, 'day'],
    [{ from: NOW - 10 * DAY, cliente: 'cliente_1' }, 'hour'],
    [{ evento: 'view' }, 'day'],
  ];
  for (const [filter, bucket] of series) {
    out.push({
      url: `/api/v1/timeseries?${query(filter, { bucket })}`,
      fresh: async (s) =>
        new TimeseriesView(filter, bucket, await s.timeseries(filter, bucket)).body().toString(),
    });
  }
  return out;
}

/** A batch of new ids, known ids again, events without id and a new client, at random times. */
function batch(rnd: () => number, round: number, known: ParsedEvent[]): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  const n = 1 + Math.floor(rnd() * 60);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.15 && known.length > 0) {
      out.push(known[Math.floor(rnd() * known.length)]!);
      continue;
    }
    // Recent (minutes, incl. the coming hour), days ago (hours), months ago (days); any second.
    const ago = r < 0.6 ? Math.floor(rnd() * 2 * DAY) - 3600 : Math.floor(rnd() * 150 * DAY);
    const names = ['cliente_0', 'cliente_1', 'cliente_2', `nuevo_${round % 3}`, '123', '7'];
    const cliente = names[Math.floor(rnd() * names.length)]!;
    const evento = ['click', 'view', 'buy', '42', `ev_${round % 4}`][Math.floor(rnd() * 5)]!;
    const id = r < 0.25 ? undefined : `b${round}-${i}`;
    out.push(ev(id, cliente, evento, isoS(NOW - ago)));
  }
  return out;
}

test('kept answers brought up to date by own commits equal fresh answers, byte for byte', (t) =>
  withDb('sqlite', AT_NOW, async (db) => {
    const store = await db.open();
    const events = dataset(3000, 7);
    await commitAll(store, events);
    await retentionPass(store, SETTINGS, { now: NOW });
    const app = apiOn(store);
    const all = asks();
    // Every event counted so far, once per id (the JavaScript oracle's input).
    const counted = new Map<string, ParsedEvent>(events.map((e) => [e.id!, e]));
    const noId: ParsedEvent[] = [];
    const tally: Record<string, number> = { hit: 0, update: 0, miss: 0 };

    const check = async (round: number, want?: string) => {
      const oracleEvents = [...counted.values(), ...noId];
      for (const a of all) {
        const res = await app.inject({ method: 'GET', url: a.url });
        assert.equal(res.statusCode, 200, a.url);
        const how = String(res.headers['x-cache']);
        tally[how] = (tally[how] ?? 0) + 1;
        if (want) assert.equal(how, want, `${a.url} after round ${round}`);
        assert.equal(res.body, await a.fresh(store), `${a.url} (${how}) after round ${round}`);
        if (a.oracle) {
          assert.deepEqual(a.oracle.read(res.json()), expected(oracleEvents, a.oracle.filter), a.url);
        }
      }
    };

    await check(0, 'miss');
    await check(0, 'hit');
    const rnd = random(11);
    const other = await db.open();
    for (let round = 1; round <= 40; round++) {
      const commits = 1 + Math.floor(rnd() * 3);
      let foreign = false;
      let rolled = false;
      for (let c = 0; c < commits; c++) {
        const b = batch(rnd, round * 10 + c, [...counted.values()]);
        const r = rnd();
        if (r < 0.1) {
          await other.commit(b);
          foreign = true;
        } else await store.commit(b);
        for (const e of b) {
          if (e.id === undefined) noId.push(e);
          else if (!counted.has(e.id)) counted.set(e.id, e);
        }
        if (r > 0.95) {
          await retentionPass(store, SETTINGS, { now: NOW });
          rolled = true;
        }
      }
      await check(round, foreign || rolled ? 'miss' : undefined);
    }
    t.diagnostic(`answers: ${JSON.stringify(tally)}`);
    assert.ok(
      tally.update! >= 20 * all.length,
      `most asks after own commits are updates: ${JSON.stringify(tally)}`,
    );
    assert.ok(
      tally.miss! >= 2 * all.length,
      `foreign commits and rollups were exercised: ${JSON.stringify(tally)}`,
    );
    await app.close();
  }));
