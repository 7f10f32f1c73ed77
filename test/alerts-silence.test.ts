// "Tell me when a client goes quiet", end to end with real parts (README "Alerts"): a rule added
// with `warren alerts add silence`, events through RabbitMQ into a running `warren analytics`, the
// client stops, and exactly one signed `fired` message reaches the alert queue within N minutes +
// 5 s of its last event; nothing repeats while it stays quiet; it resolves once when the client
// comes back. On SQLite and on PostgreSQL; and with two analytics processes on one PostgreSQL
// database and one queue, the episode fires once, not twice.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { AlertsAnswer } from '../src/analytics/index.js';
import {
  AlertReader,
  addRule,
  alertNames,
  checkSigned,
  deleteAlertTopology,
  metric,
} from './support/alerts.js';
import {
  freePort,
  getJson,
  pgDatabase,
  publishRaw,
  startWarren,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
} from './support/helpers.js';

const MINUTES = 0.05; // 3 s
const WINDOW_MS = MINUTES * 60_000;
const SLACK_MS = 5_000; // the "within N minutes + 5 s"

interface Setup {
  env: TestEnv;
  vars: Record<string, string>;
  reader: AlertReader;
  procs: WarrenProcess[];
  bases: string[];
  cleanup: () => Promise<void>;
}

async function setup(store: 'sqlite' | 'postgres', processes: number): Promise<Setup> {
  const env = testEnv('als');
  const db = store === 'postgres' ? await pgDatabase(env.id) : undefined;
  const vars: Record<string, string> = { ...env.env, ...alertNames(env.id), ALERT_EVAL_MS: '300' };
  if (db) vars.DATABASE_URL = db.url;
  const procs: WarrenProcess[] = [];
  const bases: string[] = [];
  const reader = new AlertReader(vars.ALERT_QUEUE!);
  const cleanup = async () => {
    await reader.close();
    for (const p of procs) await p.kill();
    await db?.drop().catch(() => undefined);
    await deleteAlertTopology(env.id);
    await env.cleanup();
  };
  try {
    for (let i = 0; i < processes; i++) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      procs.push(await startWarren(['analytics'], { ...vars, ANALYTICS_PORT: String(port) }, base));
      bases.push(base);
    }
    await reader.start();
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { env, vars, reader, procs, bases, cleanup };
}

/** Publishes one event of cliente_uno and waits until analytics counted it. */
async function send(s: Setup, n: number): Promise<void> {
  const body = JSON.stringify({
    id: randomUUID(),
    cliente: 'cliente_uno',
    evento: 'click',
    timestamp: new Date().toISOString(),
  });
  await publishRaw(s.env.exchange, [body]);
  await waitFor(`event ${n} counted`, async () => {
    const r = await getJson<{ clientes: Record<string, number> }>(`${s.bases[0]}/reporte`);
    return r.body.clientes?.cliente_uno === n;
  });
}

/** Waits until every process ran `passes` more evaluations (so a repeat would have shown). */
async function evaluations(s: Setup, passes: number): Promise<void> {
  const start = await Promise.all(s.bases.map((b) => metric(b, 'warren_alert_evaluations_total')));
  await waitFor(`${passes} more evaluations in each process`, async () => {
    const now = await Promise.all(s.bases.map((b) => metric(b, 'warren_alert_evaluations_total')));
    return now.every((n, i) => n >= start[i]! + passes);
  });
}

async function quietClient(s: Setup): Promise<void> {
  const rule = await addRule(
    [
      'silence',
      '--cliente',
      'cliente_uno',
      '--minutes',
      String(MINUTES),
      '--webhook',
      'http://127.0.0.1:9/hook?token=x',
    ],
    s.vars,
  );
  let lastSentAt = 0;
  for (let n = 1; n <= 3; n++) {
    lastSentAt = Date.now(); // before the publish: the event's arrival is later
    await send(s, n);
  }
  assert.equal(s.reader.got.length, 0, 'nothing fires while the client sends');

  const fired = await waitFor(
    'one fired message',
    () => s.reader.of('fired')[0],
    WINDOW_MS + SLACK_MS + 5_000,
  );
  const late = fired.at - lastSentAt;
  assert.ok(
    late <= WINDOW_MS + SLACK_MS,
    `fired ${late} ms after the last event (at most ${WINDOW_MS + SLACK_MS})`,
  );
  assert.ok(late >= WINDOW_MS - 1000, `not before the window passed: ${late} ms`);
  checkSigned(fired, rule.secret);
  const a = fired.message.alert;
  assert.equal(a.rule.id, rule.id);
  assert.equal(a.id, `${rule.id}:${a.episode_start}:fired`);
  const lastEvent = Date.parse(String(a.detail.last_event));
  assert.equal(
    Date.parse(a.episode_start),
    lastEvent + WINDOW_MS,
    'episode start = last arrival + N minutes',
  );
  assert.equal(fired.message.url, 'http://127.0.0.1:9/hook?token=x', 'the deliverer gets the whole URL');

  // While it stays quiet: several evaluations in every process, and still one message.
  await evaluations(s, 3);
  assert.deepEqual(s.reader.ids(), [a.id], 'no repeat while the condition holds');

  const state = await getJson<AlertsAnswer>(`${s.bases[0]}/api/v1/alerts`);
  assert.equal(state.body.rules[0]?.state, 'firing');
  assert.equal(state.body.rules[0]?.since, a.episode_start);

  await send(s, 4);
  const resolved = await waitFor('one resolved message', () => s.reader.of('resolved')[0], 10_000);
  checkSigned(resolved, rule.secret);
  assert.equal(resolved.message.alert.id, `${rule.id}:${a.episode_start}:resolved`);
  assert.equal(resolved.message.alert.episode_start, a.episode_start);
  await evaluations(s, 2);
  assert.deepEqual(s.reader.ids(), [a.id, resolved.message.alert.id], 'one firing, one resolution');

  const end = await getJson<AlertsAnswer>(`${s.bases[0]}/api/v1/alerts`);
  assert.equal(end.body.rules[0]?.state, 'ok');
  assert.equal(
    end.body.rules[0]?.webhook,
    'http://127.0.0.1:9/…',
    'no path or query (they may hold a token)',
  );
  assert.deepEqual(
    end.body.firings.map((f) => f.state),
    ['resolved', 'fired'],
  );
  assert.ok(!JSON.stringify(end.body).includes(rule.secret), 'GET never shows the secret');
}

describe('silence alerts, end to end', () => {
  const setups: Setup[] = [];
  after(async () => {
    for (const s of setups) await s.cleanup();
  });

  for (const store of ['sqlite', 'postgres'] as const) {
    it(`a client that goes quiet fires once within N min + 5 s and resolves once when it is back (${store})`, async () => {
      const s = await setup(store, 1);
      setups.push(s);
      await quietClient(s);
    });
  }

  it('two analytics processes on one PostgreSQL database and one queue: one firing, not two', async () => {
    const s = await setup('postgres', 2);
    setups.push(s);
    await quietClient(s);
    // Both processes recorded between them exactly one firing and one resolution.
    const recorded = await Promise.all(s.bases.map((b) => metric(b, 'warren_alerts_recorded_total')));
    assert.equal(
      recorded.reduce((x, y) => x + y, 0),
      2,
      `firings + resolutions recorded per process: ${recorded}`,
    );
  });
});
