// Scenario 2: the RabbitMQ node is stopped cleanly (SIGTERM to rabbitmq-server, as `rabbitmqctl stop`) and started again during load, twice
// at full size. Nobody restarts analytics, ingest or the clients: they reconnect by themselves.
// Ingest answers 503 meanwhile and the HTTP clients retry with the same Idempotency-Key; the
// simulated clients publish again, with the same ids, whatever was not confirmed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, sleep } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
import { mixedLoad, SdkLoad } from './load.js';
import { finish, recorded } from './report.js';
import { Scenario } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '2. RabbitMQ stopped and started during load',
  test: 'chaos 2: RabbitMQ stopped and started during load',
  file: import.meta.filename,
};

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    const s = await Scenario.open('broker', 'sqlite');
    try {
      const analytics = await s.analytics();
      const ingest = await s.ingest({ PUBLISH_TIMEOUT_MS: '2000' });
      await Promise.all([analytics.start(), ingest.start()]);
      const cycles = SCALE >= 0.5 ? 2 : 1;
      const seconds = Math.max(25, 45 * SCALE);
      const fast = size(20_000, 400);
      const paced = size(20_000, 400);
      const { clients, http, simPlanned } = mixedLoad(s, {
        prefix: 'b',
        ingestBase: ingest.base,
        fast,
        paced,
        httpEvents: size(20_000, 400),
        seconds,
      });
      const sdkEvents = size(10_000, 200);
      const sdk = new SdkLoad(ingest.base, 'b_sdk', sdkEvents, sdkEvents / seconds).start();

      const outages: Record<string, unknown>[] = [];
      for (let i = 0; i < cycles; i++) {
        await sleep(between(2000, 6000));
        const stopAt = Date.now();
        await s.node.stop();
        const downFor = between(2000, 6000);
        await sleep(downFor);
        // While the node is down ingest is up and says so (CONTRACT.md: readyz 503).
        const readyz = (await getJson(`${ingest.base}/readyz`)).status;
        const startAt = Date.now();
        await s.node.start();
        outages.push({
          at_s: (stopAt - started) / 1000,
          unavailable_s: (Date.now() - stopAt) / 1000,
          stop_s: (startAt - stopAt) / 1000,
          start_s: (Date.now() - startAt) / 1000,
          ingest_readyz_while_down: readyz,
        });
        assert.equal(readyz, 503, 'ingest not ready while the broker is down');
      }

      const ledger = new Ledger();
      for (const c of clients) await ledger.addSim(c);
      await Promise.all([http.done, sdk.done]);
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.addIds(sdk.cliente, sdk.ids);
      ledger.sent = simPlanned + http.planned + sdk.planned;

      const settled = await settle(s, [analytics], ledger, { timeoutMs: size(300_000, 90_000) });
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ingest],
        faults: `${cycles} × broker stop/start`,
        faultsInjected: cycles,
        note: `broker unavailable ${outages.map((o) => `${Number(o.unavailable_s).toFixed(1)} s`).join(', ')}; ${http.retries + sdk.retries} HTTP retries (503 while down)`,
        details: {
          outages,
          http_retries: http.retries,
          http_failures: http.failures,
          sdk_retries: sdk.retries,
          load_seconds: seconds,
        },
      });
    } finally {
      await s.close();
    }
  }),
);
