// Scenario 3: two ingest instances share the HTTP clients; one of them is SIGKILLed while requests
// are in flight on it (4 times, alternating, each started again after a moment). A client that
// gets a connection error, a timeout or a 5xx retries the same request (same Idempotency-Key,
// same body) on the other instance. A request cut after its publish reached the broker is thus
// published twice with the same ids: counted once. Simulated clients publish alongside.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep, waitFor } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
import { HttpLoad } from './load.js';
import { finish, recorded } from './report.js';
import { Scenario } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '3. one of two ingest instances SIGKILLed mid-request',
  test: 'chaos 3: one of two ingest instances SIGKILLed mid-request',
  file: import.meta.filename,
};
const KILLS = 4;

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    const s = await Scenario.open('ingest', 'sqlite');
    try {
      const analytics = await s.analytics();
      const ingests = [await s.ingest(), await s.ingest()];
      await Promise.all([analytics.start(), ...ingests.map((i) => i.start())]);
      // The load outlasts the kill cycles at every scale; small runs send smaller requests, so
      // there are still many of them in flight to cut.
      const seconds = Math.max(30, 40 * SCALE);
      const httpEvents = size(60_000, 3000);
      const perRequest = SCALE >= 0.5 ? 100 : 10;
      const http = new HttpLoad({
        targets: () => ingests.map((i) => i.base),
        senders: 6,
        perRequest,
        events: httpEvents,
        rate: httpEvents / seconds,
        prefix: 'i_http',
        keyPrefix: s.te.id,
      }).start();
      const simEvents = size(20_000, 400);
      const clients = [
        s.client('i_sim_1', simEvents),
        s.client('i_sim_2', simEvents, Math.ceil(simEvents / seconds)),
      ];

      const kills: Record<string, unknown>[] = [];
      for (let k = 0; k < KILLS; k++) {
        const victim = ingests[k % 2]!;
        await sleep(between(1000, 4000));
        // Mid-request: wait for a moment when the victim holds at least one request.
        const inflight = await waitFor(
          `a request in flight on ingest ${victim.port}`,
          () => http.inflight.get(victim.base) ?? 0,
          30_000,
          2,
        );
        await victim.kill9();
        kills.push({ at_s: (Date.now() - started) / 1000, port: victim.port, requests_in_flight: inflight });
        await sleep(between(500, 2500));
        await victim.start();
      }

      const ledger = new Ledger();
      for (const c of clients) await ledger.addSim(c);
      await http.done;
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.sent = 2 * simEvents + http.planned;
      // Cut mid-request: the connection dropped or the answer never came (not a refused connect
      // to the dead instance, nor an HTTP status).
      const cut = Object.entries(http.failures)
        .filter(([reason]) => !/^\d+$/.test(reason) && reason !== 'ECONNREFUSED')
        .reduce((n, [, v]) => n + v, 0);
      assert.ok(cut >= 1, `some requests were cut by a kill: ${JSON.stringify(http.failures)}`);

      const settled = await settle(s, [analytics], ledger, { timeoutMs: size(300_000, 90_000) });
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ...ingests],
        faults: `${KILLS} × SIGKILL ingest`,
        faultsInjected: KILLS,
        note: `${cut} requests cut mid-flight, ${http.retries} retries with the same Idempotency-Key`,
        details: {
          kills,
          http_attempts: http.attempts,
          http_retries: http.retries,
          http_failures: http.failures,
          load_seconds: seconds,
        },
      });
    } finally {
      await s.close();
    }
  }),
);
