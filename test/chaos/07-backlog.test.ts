// Scenario 7: a 1,000,000-event backlog built while analytics is stopped (4 `warren client --rate 0`
// children and HTTP clients through ingest), then drained by one analytics. Records the drain
// rate and the analytics process's peak resident memory (VmHWM from /proc/<pid>/status): a
// backlog must not make it hold the queue in memory (prefetch bounds what it takes at once).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { size } from './knobs.js';
import { HttpLoad } from './load.js';
import { finish, recorded } from './report.js';
import { Scenario } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '7. 1,000,000-event backlog drained',
  test: 'chaos 7: 1,000,000-event backlog built while analytics is stopped, then drained',
  file: import.meta.filename,
};
const CLIENTS = 4;

test(META.test, { timeout: 40 * 60_000 }, () =>
  recorded(META, async (started) => {
    const s = await Scenario.open('backlog', 'sqlite');
    try {
      const ingest = await s.ingest();
      await ingest.start();
      const analytics = await s.analytics();
      const b0 = Date.now();
      const per = Math.ceil(size(1_000_000, 20_000) / CLIENTS);
      const clients = Array.from({ length: CLIENTS }, (_, k) => s.client(`g_sim_${k + 1}`, per));
      const httpEvents = size(20_000, 1000);
      const http = new HttpLoad({
        targets: () => [ingest.base],
        senders: 2,
        perRequest: 500,
        events: httpEvents,
        rate: 0,
        prefix: 'g_http',
        keyPrefix: s.te.id,
      }).start();

      const ledger = new Ledger();
      for (const c of clients) await ledger.addSim(c);
      await http.done;
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.sent = CLIENTS * per + http.planned;
      const buildSeconds = (Date.now() - b0) / 1000;
      const backlog = (await s.queueState()).messages;
      // A republished copy (same id) may be there too, never fewer than the confirmed events.
      assert.ok(backlog >= ledger.confirmed, `backlog ${backlog} < confirmed ${ledger.confirmed}`);

      const d0 = Date.now();
      await analytics.start();
      let peakRssMb: number | undefined;
      const s0 = Date.now();
      const settled = await settle(s, [analytics], ledger, {
        timeoutMs: size(900_000, 120_000),
        beforeStop: () => {
          peakRssMb = analytics.peakRssMb();
        },
      });
      const drainSeconds = (s0 - d0) / 1000 + settled.drainSeconds;
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ingest],
        faults: `analytics stopped while ${backlog.toLocaleString('en-US')} messages piled up`,
        faultsInjected: 1,
        note: `built at ${Math.round(ledger.confirmed / buildSeconds).toLocaleString('en-US')} ev/s; drained at ${Math.round(backlog / drainSeconds).toLocaleString('en-US')} ev/s; analytics peak RSS ${peakRssMb} MB`,
        details: {
          backlog,
          build_seconds: Math.round(buildSeconds * 10) / 10,
          build_eps: Math.round(ledger.confirmed / buildSeconds),
          drain_seconds_from_start: Math.round(drainSeconds * 10) / 10,
          drain_eps: Math.round(backlog / drainSeconds),
          analytics_peak_rss_mb: peakRssMb,
          http_retries: http.retries,
        },
      });
      // Draining a backlog must not load it into memory (prefetch bounds what is held).
      assert.ok(peakRssMb !== undefined, 'the peak RSS of analytics was read');
      assert.ok(peakRssMb <= 200, `analytics peak RSS ${peakRssMb} MB > 200 MB while draining`);
    } finally {
      await s.close();
    }
  }),
);
