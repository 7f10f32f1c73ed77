// The alert outbox survives (README "Alerts"): a firing recorded while analytics cannot reach
// RabbitMQ stays in the store unpublished; analytics is killed (SIGKILL) before it could publish
// it; a new analytics process, with the broker, publishes it with the same id. A firing recorded
// while the broker is away is published, once, when it comes back. And dead_letters
// rules (above a count, and valid events) fire and resolve once each, on a real DLQ.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import amqp from 'amqplib';
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
  AMQP_URL,
  freePort,
  publishRaw,
  startWarren,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { TcpProxy } from './support/tcp-proxy.js';

async function listJson(vars: Record<string, string>): Promise<AlertsAnswer> {
  const p = warren(['alerts', 'list', '--json'], vars);
  assert.equal(await p.exited, 0, p.output());
  return JSON.parse(p.stdout()) as AlertsAnswer;
}

describe('alert outbox and dead-letter rules', () => {
  const envs: TestEnv[] = [];
  const procs: WarrenProcess[] = [];
  const readers: AlertReader[] = [];
  after(async () => {
    for (const r of readers) await r.close();
    for (const p of procs) await p.kill('SIGKILL');
    for (const e of envs) {
      await deleteAlertTopology(e.id);
      await e.cleanup();
    }
  });

  it('a firing recorded but not published when analytics is killed is published after the restart, same id', async () => {
    const env = testEnv('alo');
    envs.push(env);
    const vars: Record<string, string> = { ...env.env, ...alertNames(env.id), ALERT_EVAL_MS: '200' };
    const deadPort = await freePort(); // nothing listens there: the broker is unreachable
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const rule = await addRule(
      ['silence', '--cliente', 'cliente_mudo', '--minutes', '0.02', '--webhook', 'https://hooks.example/a'],
      vars,
    );
    const first = await startWarren(
      ['analytics'],
      { ...vars, AMQP_URL: `amqp://guest:guest@127.0.0.1:${deadPort}`, ANALYTICS_PORT: String(port) },
      base,
      { listening: true },
    );
    procs.push(first);
    // The client never sent anything: the episode starts when the rule is N minutes old.
    const recorded = await waitFor('the firing recorded in the store', async () => {
      const f = (await listJson(vars)).firings;
      return f.length === 1 ? f[0] : undefined;
    });
    assert.equal(recorded.state, 'fired');
    assert.equal(recorded.id, `${rule.id}:${recorded.episode_start}:fired`);
    assert.equal((recorded as { published?: boolean }).published, false, 'not published: no broker');
    assert.ok((await metric(base, 'warren_alerts_recorded_total')) === 1);
    await first.kill('SIGKILL');

    const second = await startWarren(['analytics'], { ...vars, ANALYTICS_PORT: String(port) }, base);
    procs.push(second);
    const reader = new AlertReader(vars.ALERT_QUEUE!);
    readers.push(reader);
    await reader.start();
    const got = await waitFor('the firing published after the restart', () => reader.of('fired')[0], 30_000);
    assert.equal(got.message.alert.id, recorded.id, 'the same id');
    checkSigned(got, rule.secret);
    await waitFor('marked published', async () => (await listJson(vars)).firings[0]?.published === true);
    assert.equal(
      await metric(base, 'warren_alerts_recorded_total'),
      0,
      'the new process recorded nothing again',
    );
    assert.deepEqual(reader.ids(), [recorded.id]);
  });

  it('a firing recorded while the broker is away is published once it is back, once', async () => {
    const env = testEnv('alb');
    envs.push(env);
    const vars: Record<string, string> = { ...env.env, ...alertNames(env.id), ALERT_EVAL_MS: '200' };
    const proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5672 });
    await proxy.up();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const p = await startWarren(
      ['analytics'],
      { ...vars, AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}`, ANALYTICS_PORT: String(port) },
      base,
    );
    procs.push(p);
    const reader = new AlertReader(vars.ALERT_QUEUE!);
    readers.push(reader);
    await reader.start();
    await proxy.down(); // the broker goes away (connections cut, nothing listens)
    try {
      const rule = await addRule(
        ['silence', '--cliente', 'cliente_mudo', '--minutes', '0.02', '--webhook', 'https://hooks.example/b'],
        vars,
      );
      const recorded = await waitFor('the firing recorded while the broker is away', async () => {
        const f = (await listJson(vars)).firings;
        return f.length === 1 ? f[0] : undefined;
      });
      assert.equal((recorded as { published?: boolean }).published, false);
      assert.equal(reader.got.length, 0);
      await proxy.up();
      const got = await waitFor('published after the reconnect', () => reader.of('fired')[0], 30_000);
      assert.equal(got.message.alert.id, recorded.id);
      checkSigned(got, rule.secret);
      await waitFor('marked published', async () => (await listJson(vars)).firings[0]?.published === true);
      const evals = await metric(base, 'warren_alert_evaluations_total');
      await waitFor(
        '3 evaluations',
        async () => (await metric(base, 'warren_alert_evaluations_total')) >= evals + 3,
      );
      assert.deepEqual(reader.ids(), [recorded.id], 'published once');
    } finally {
      await p.kill();
      await proxy.down();
    }
  });

  it('dead_letters: above a count and valid events each fire once and resolve once', async () => {
    const env = testEnv('ald');
    envs.push(env);
    const vars: Record<string, string> = { ...env.env, ...alertNames(env.id), ALERT_EVAL_MS: '200' };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const p = await startWarren(['analytics'], { ...vars, ANALYTICS_PORT: String(port) }, base);
    procs.push(p);
    const reader = new AlertReader(vars.ALERT_QUEUE!);
    readers.push(reader);
    await reader.start();
    const above = await addRule(
      ['dead_letters', '--above', '1', '--webhook', 'https://hooks.example/d'],
      vars,
    );
    const valid = await addRule(['dead_letters', '--valid', '--webhook', 'https://hooks.example/v'], vars);
    const fromRule = (id: string, state: string) =>
      reader.got.filter((g) => g.message.alert.rule.id === id && g.message.alert.state === state);

    // One invalid message: the DLQ holds 1, not above 1; nothing fires.
    await publishRaw(env.exchange, ['not json']);
    await waitFor('dead-lettered', async () => (await metric(base, 'warren_dead_letters')) === 1);
    const evals = await metric(base, 'warren_alert_evaluations_total');
    await waitFor(
      '3 evaluations',
      async () => (await metric(base, 'warren_alert_evaluations_total')) >= evals + 3,
    );
    assert.equal(reader.got.length, 0, `nothing fired yet: ${reader.ids()}`);

    // A valid event lands in the DLQ (as the broker dead-letters it): 2 > 1, and a valid one.
    const event = JSON.stringify({ id: 'v1', cliente: 'c', evento: 'e', timestamp: '2025-04-13T12:00:00Z' });
    const conn = await amqp.connect(AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue(env.dlq, Buffer.from(event), { persistent: true });
      await ch.waitForConfirms();
      await waitFor(
        'both fired',
        () => fromRule(above.id, 'fired').length === 1 && fromRule(valid.id, 'fired').length === 1,
      );
      checkSigned(fromRule(above.id, 'fired')[0]!, above.secret);
      checkSigned(fromRule(valid.id, 'fired')[0]!, valid.secret);
      const e2 = await metric(base, 'warren_alert_evaluations_total');
      await waitFor(
        '3 evaluations',
        async () => (await metric(base, 'warren_alert_evaluations_total')) >= e2 + 3,
      );
      assert.equal(reader.got.length, 2, `no repeats: ${reader.ids()}`);
      await ch.purgeQueue(env.dlq);
      await ch.close();
    } finally {
      await conn.close();
    }
    await waitFor(
      'both resolved',
      () => fromRule(above.id, 'resolved').length === 1 && fromRule(valid.id, 'resolved').length === 1,
      20_000,
    );
    const e3 = await metric(base, 'warren_alert_evaluations_total');
    await waitFor(
      '3 evaluations',
      async () => (await metric(base, 'warren_alert_evaluations_total')) >= e3 + 3,
    );
    assert.equal(reader.got.length, 4, `each fired once and resolved once: ${reader.ids()}`);
  });
});
