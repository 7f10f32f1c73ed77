// Scenario 6: 1,000 poison messages of 32 kinds mixed into the stream (published in 20 bursts
// while simulated and HTTP clients send), and analytics SIGKILLed once in the middle. Each poison
// message must end in the dead-letter queue exactly once, with a reason `warren dlq list` shows;
// none may be counted, and no valid event may be dead-lettered or held up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeadLetter } from '../../src/audit/deadletters.js';
import { parseBody } from '../../src/event.js';
import { sleep, within } from '../support/helpers.js';
import { between, SCALE, size } from './knobs.js';
import { HttpLoad } from './load.js';
import { KINDS, poisonIndex, poisonMessages } from './poison.js';
import { finish, recorded } from './report.js';
import { Scenario, tail } from './scenario.js';
import { Ledger, settle } from './verify.js';

const META = {
  scenario: '6. 1,000 poison messages mixed into the stream',
  test: 'chaos 6: 1,000 poison messages of 32 kinds mixed into the stream',
  file: import.meta.filename,
};
const POISON = 1000;
const BURSTS = 20;

test(META.test, { timeout: 20 * 60_000 }, () =>
  recorded(META, async (started) => {
    const poison = poisonMessages(POISON);
    for (const p of poison) assert.equal(parseBody(p.body).ok, false, `"${p.kind}" must be invalid`);
    const s = await Scenario.open('poison', 'sqlite');
    try {
      const analytics = await s.analytics();
      const ingest = await s.ingest();
      await Promise.all([analytics.start(), ingest.start()]);
      const seconds = Math.max(20, 30 * SCALE);
      const paced = size(20_000, 400);
      const clients = [1, 2, 3, 4].map((n) => s.client(`x_sim_${n}`, paced, Math.ceil(paced / seconds)));
      const httpEvents = size(10_000, 400);
      const http = new HttpLoad({
        targets: () => [ingest.base],
        senders: 2,
        perRequest: 50,
        events: httpEvents,
        rate: httpEvents / seconds,
        prefix: 'x_http',
        keyPrefix: s.te.id,
      }).start();

      const per = POISON / BURSTS;
      let killedAt: number | undefined;
      for (let b = 0; b < BURSTS; b++) {
        await sleep(between(200, (seconds * 1000) / BURSTS));
        await s.publishRaw(poison.slice(b * per, (b + 1) * per));
        if (b === BURSTS / 2) {
          await sleep(between(0, 200));
          await analytics.kill9();
          killedAt = (Date.now() - started) / 1000;
          await analytics.start();
        }
      }

      const ledger = new Ledger();
      for (const c of clients) await ledger.addSim(c);
      await http.done;
      for (const [cliente, ids] of http.accepted) ledger.addIds(cliente, ids);
      ledger.sent = 4 * paced + http.planned;

      const settled = await settle(s, [analytics], ledger, { timeoutMs: size(300_000, 90_000) });
      // What an operator sees: `warren dlq list --json`, one entry per dead letter, each with a reason.
      const list = s.spawn(['dlq', 'list', '--json']);
      assert.equal(await within('`warren dlq list --json` to exit', 120_000, list.exited), 0, tail(list));
      const dead = JSON.parse(list.stdout()) as DeadLetter[];
      const seen = new Map<number, number>();
      const problems: string[] = [];
      for (const d of dead) {
        const i = poisonIndex(d.id);
        if (i === undefined) problems.push(`not a poison message: ${JSON.stringify(d).slice(0, 200)}`);
        else seen.set(i, (seen.get(i) ?? 0) + 1);
        if (d.valid || !d.reason || d.death !== 'rejected')
          problems.push(`#${d.position} valid=${d.valid} death=${d.death} reason=${d.reason}`);
      }
      const copies = [...seen.values()].filter((n) => n > 1).length;
      const missing = poison.filter((_, i) => !seen.has(i)).map((p) => `${p.messageId} (${p.kind})`);
      finish({
        ...META,
        started,
        ledger,
        settled,
        services: [analytics, ingest],
        poison: POISON,
        faults: `${POISON.toLocaleString('en-US')} poison (${Object.keys(KINDS).length} kinds) + 1 × SIGKILL analytics`,
        faultsInjected: POISON + 1,
        note: `dlq list: ${dead.length} listed with reasons, ${copies} copies, ${missing.length} missing`,
        details: {
          dlq_listed: dead.length,
          dlq_copies: copies,
          dlq_missing: missing.length,
          dlq_problems: problems.slice(0, 10),
          killed_at_s: killedAt,
          http_retries: http.retries,
          load_seconds: seconds,
        },
      });
      assert.equal(dead.length, POISON, '`warren dlq list` shows every poison message');
      assert.deepEqual(missing, [], 'every poison message is in the DLQ');
      assert.equal(copies, 0, 'no poison message is in the DLQ twice');
      assert.deepEqual(problems, [], 'each dead letter is a poison message, rejected, with a reason');
    } finally {
      await s.close();
    }
  }),
);
