// GET /api/v1/export is bounded (src/analytics/export-route.ts): at most EXPORT_CONCURRENCY stream
// at once, the next one is 503 overloaded with Retry-After, and a slot comes back when its export
// ends, when its client goes away, and when its client stops reading for READ_TIMEOUT_MS (a
// reader that never reads would otherwise hold the slot, and the store's read snapshot, forever).
// Over real HTTP: an export held open is one whose client stopped reading, so the server is held
// by TCP flow control, not by anything in the test.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { waitFor, within } from './support/helpers.js';
import { fillDay, isoS, NOW_S } from './support/reads.js';
import { apiOn, ev, withStore } from './support/store.js';

interface Opened {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole body of an answer other than 200; of a 200 only what came before it paused. */
  body: string;
  req: http.ClientRequest;
  res: http.IncomingMessage;
}

/** Asks for an export; a 200 is paused after its first bytes (a client that stopped reading). */
function openExport(base: string, query = ''): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/v1/export${query}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, req, res });
      if (res.statusCode !== 200) {
        res.on('data', (c: string) => (body += c));
        res.on('end', done);
        return;
      }
      res.once('data', (c: string) => {
        res.pause();
        body = c;
        done();
      });
    });
    req.on('error', reject);
  });
}

/** Asks for an export and reads it to the end. */
function wholeExport(base: string, query = ''): Promise<{ status: number; lines: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/api/v1/export${query}`, (res) => {
        let lines = 0;
        res.setEncoding('utf8');
        res.on('data', (c: string) => (lines += c.split('\n').length - 1));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, lines }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Whether an export would be served now (it is asked for, then dropped at once). */
async function served(base: string): Promise<boolean> {
  const e = await openExport(base);
  e.req.destroy();
  return e.status === 200;
}

async function listening(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

// About 200,000 lines (16 MB of NDJSON): far more than the socket buffers and the stream's own
// buffer hold, so an export whose client stops reading stays open.
const EVENTS = 200_000;

test('past EXPORT_CONCURRENCY an export is 503 overloaded; a client that goes away, or an ended export, frees its slot', () =>
  withStore('sqlite', async (store) => {
    await fillDay(store, EVENTS, 10_000);
    const app = apiOn(store, { exports: { concurrency: 2 } });
    const base = await listening(app);
    try {
      const a = await openExport(base);
      const b = await openExport(base);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const c = await openExport(base);
      assert.equal(c.status, 503, c.body);
      assert.equal(JSON.parse(c.body).error, 'overloaded');
      assert.match(JSON.parse(c.body).message, /EXPORT_CONCURRENCY/);
      assert.ok(Number(c.headers['retry-after']) >= 1, 'Retry-After');

      // A client that goes away mid-export gives its slot back.
      a.req.destroy();
      await waitFor('a slot freed by the client that left', () => served(base), 10_000, 50);
      b.req.destroy();
      await waitFor('both slots free', async () => (await served(base)) && (await served(base)), 10_000, 50);

      // Exports that end give their slots back: more of them, one after another, than there are slots.
      const recent = `?from=${isoS(NOW_S - 600)}`;
      for (let i = 0; i < 4; i++) {
        const r = await wholeExport(base, recent);
        assert.equal(r.status, 200, `export ${i + 1}`);
        assert.ok(r.lines > 0, 'it has lines');
      }
    } finally {
      await app.close();
    }
  }));

test('an export whose client stops reading is ended after READ_TIMEOUT_MS, and its slot freed', () =>
  withStore('sqlite', async (store) => {
    await fillDay(store, EVENTS, 10_000);
    const app = apiOn(store, {
      exports: { concurrency: 1 },
      reads: { concurrency: 2, queue: 32, timeoutMs: 1000 },
    });
    const base = await listening(app);
    try {
      const stalled = await openExport(base);
      assert.equal(stalled.status, 200);
      assert.equal((await openExport(base)).status, 503, 'the stalled export holds the only slot');
      // Ended on the server side: the slot is back while the client still reads nothing.
      await waitFor('the stalled export to give its slot back', () => served(base), 15_000, 100);
      // What the client had in its buffers comes to it, then the end of a cut response: it can
      // tell this is not the whole export.
      stalled.res.on('error', () => undefined);
      const ended = new Promise<void>((resolve) => stalled.res.on('close', resolve));
      stalled.res.resume();
      await ended;
      assert.equal(stalled.res.complete, false, 'the response was cut, not completed');
    } finally {
      await app.close();
    }
  }));

test('PostgreSQL: at most 3 exports stream at once whatever EXPORT_CONCURRENCY says; the commits keep a connection', () =>
  withStore('postgres', async (store, db) => {
    await fillDay(store, EVENTS, 10_000);
    // README: EXPORT_CONCURRENCY is capped at 3 with PostgreSQL (export-route.ts). The store's
    // pool has 4 connections, each streaming export holds one for as long as it streams (a
    // server-side cursor), and the commits need the one left.
    const app = apiOn(store, { exports: { concurrency: 5 } });
    const base = await listening(app);
    const open: Opened[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await openExport(base));
      assert.deepEqual(
        open.map((e) => e.status),
        [200, 200, 200],
      );
      const refused = await openExport(base);
      open.push(refused); // closed at the end, should it have been served
      assert.equal(refused.status, 503, `a 4th export with EXPORT_CONCURRENCY=5 was ${refused.status}`);
      assert.equal(JSON.parse(refused.body).error, 'overloaded');
      assert.match(JSON.parse(refused.body).message, /\(3 at once\).*EXPORT_CONCURRENCY/);
      assert.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After');
      // The three are streaming on the server: each has its cursor open, paused between pages.
      const cursors = await db.sql(
        store,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'FETCH%'",
      );
      assert.equal(Number(cursors[0]!.n), 3, 'export cursors open');
      // With three exports held open, a batch still commits on the store's pool.
      const r = await within(
        'a commit while 3 exports stream',
        10_000,
        store.commit([ev('during-exports', 'cliente_x', 'click', isoS(NOW_S - 30))]),
      );
      assert.equal(r.counted, 1);

      // A client that goes away gives its slot back, and it is the only one: the next is served,
      // the one after is refused again.
      open.shift()!.req.destroy();
      await waitFor(
        'a slot freed by the client that left',
        async () => {
          const e = await openExport(base);
          if (e.status === 200) open.push(e);
          return e.status === 200;
        },
        10_000,
        50,
      );
      const again = await openExport(base);
      open.push(again);
      assert.equal(again.status, 503, 'three stream again');
    } finally {
      for (const e of open) e.req.destroy();
      await app.close();
    }
  }));
