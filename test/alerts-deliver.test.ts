// The alert deliverer against the real RabbitMQ and a local HTTP receiver (README "Alerts" >
// "Delivery"): bodies arrive byte for byte with a signature that verifies and the alert id; a
// receiver down, then answering 503, then up gets every firing; a receiver that always fails
// gets ALERT_MAX_ATTEMPTS tries and the alert lands in the DLQ with its reason while others are
// delivered; a permanent refusal (404) is dead-lettered at once; hostile messages are
// dead-lettered with a reason and the deliverer goes on.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { buildMessage, verify } from '../src/alert.js';
import { build, type Deliverer } from '../src/alerts/deliverer.js';
import { createLogger } from '../src/log.js';
import {
  type AlertEnv,
  type Answer,
  alertEnv,
  drainDlq,
  makeAlert,
  message,
  publishAlerts,
  queueState,
  Receiver,
  testConfig,
} from './support/alert-delivery.js';
import { waitFor } from './support/helpers.js';

const log = createLogger(process.env.TEST_LOG ?? 'silent');
const open: { d: Deliverer; r: Receiver; a: AlertEnv }[] = [];

after(async () => {
  for (const { d, r, a } of open) {
    await r.close(); // first: requests it holds fail at once, so the deliverer stops at once
    await d.close();
    await a.cleanup();
  }
});

async function setup(extra: Record<string, string> = {}) {
  const a = alertEnv('al', undefined, extra);
  const r = await Receiver.create();
  const d = build(testConfig(a), log);
  open.push({ d, r, a });
  await d.start();
  await waitFor('the deliverer to consume', () => d.consuming, 20_000);
  return { a, r, d };
}

test('delivers json and slack bodies byte for byte, signed, with the alert id', async () => {
  const { a, r } = await setup();
  await r.listen();
  const json = buildMessage(makeAlert('j'), `${r.url}/hook?token=x`, 'json', 'secret-json');
  const slack = buildMessage(makeAlert('s', 'resolved'), `${r.url}/slack`, 'slack', 'secret-slack');
  await publishAlerts(a, [json, slack]);
  await waitFor('both delivered', () => r.received.length >= 2, 20_000);
  const [j] = r.byId(json.alert.id);
  const [s] = r.byId(slack.alert.id);
  assert.ok(j && s, 'each alert arrives with X-Warren-Alert-Id');
  assert.equal(j.body, json.body);
  assert.equal(j.path, '/hook?token=x');
  assert.equal(j.headers['content-type'], 'application/json');
  assert.equal(verify(j.body, String(j.headers['x-warren-signature']), 'secret-json'), true);
  assert.equal(verify(j.body, String(j.headers['x-warren-signature']), 'another'), false);
  assert.equal(JSON.parse(j.body).id, json.alert.id);
  assert.equal(s.body, slack.body);
  assert.equal(verify(s.body, String(s.headers['x-warren-signature']), 'secret-slack'), true);
  const sb = JSON.parse(s.body);
  assert.match(sb.text, /:white_check_mark: cliente_uno sent nothing/);
  assert.equal(sb.warren.id, slack.alert.id);
  await waitFor('the queue empty (acked)', async () => (await queueState(a.url, a.queue)).messages === 0);
  assert.equal(r.received.length, 2, 'each delivered once');
  // Credentials in the URL go as basic auth (fetch refuses them in the URL).
  const authed = buildMessage(
    makeAlert('auth'),
    `http://hook-user:p%40ss@127.0.0.1:${r.port}/auth`,
    'json',
    's',
  );
  await publishAlerts(a, [authed]);
  await waitFor('the authed one delivered', () => r.byId(authed.alert.id).length === 1, 20_000);
  const [au] = r.byId(authed.alert.id);
  assert.equal(au?.headers.authorization, `Basic ${Buffer.from('hook-user:p@ss').toString('base64')}`);
  assert.equal(au?.path, '/auth');
  assert.equal(au?.answered, 200);
});

test('a receiver down, then answering 503, then up: every firing delivered, none lost', async () => {
  const { a, r, d } = await setup({ ALERT_MAX_ATTEMPTS: '1000', ALERT_RETRY_MAX_MS: '100' });
  const msgs = Array.from({ length: 8 }, (_, i) => message(`down-${i}`, `${r.url}/hook`));
  await publishAlerts(a, msgs);
  // The port is closed: every alert fails a few times.
  await waitFor('failed attempts while down', () => d.stats.failedAttempts >= 3 * msgs.length, 20_000);
  let unavailable = 0;
  r.answer = () => (unavailable++ < 20 ? 503 : 200);
  await r.listen();
  const delivered = (id: string) => r.byId(id).some((x) => x.answered === 200);
  await waitFor('every alert delivered', () => msgs.every((m) => delivered(m.alert.id)), 30_000);
  await waitFor('the queue empty', async () => (await queueState(a.url, a.queue)).messages === 0);
  assert.equal(d.stats.delivered, msgs.length);
  assert.equal(d.stats.deadLettered, 0);
  assert.equal((await drainDlq(a)).length, 0);
  assert.ok(unavailable > 20, 'the receiver answered 503 for a while');
  for (const m of msgs) {
    const seen = r.byId(m.alert.id);
    assert.equal(seen.filter((x) => x.answered === 200).length, 1, 'one success each, then acked');
    assert.equal(seen.at(-1)?.body, m.body);
  }
});

test('a receiver that always fails: dead-lettered after ALERT_MAX_ATTEMPTS with its reason; others go on', async () => {
  const { a, r, d } = await setup({ ALERT_MAX_ATTEMPTS: '3', ALERT_TIMEOUT_MS: '300' });
  const answers: Record<string, Answer> = { '/fail': 500, '/gone': 404, '/moved': 302, '/slow': 'hold' };
  r.answer = (req) => answers[req.path] ?? 200;
  await r.listen();
  const bad = message('fail', `${r.url}/fail`);
  const gone = message('gone', `${r.url}/gone`);
  const moved = message('moved', `${r.url}/moved`);
  const slow = message('slow', `${r.url}/slow`);
  const good = message('good', `${r.url}/ok`);
  await publishAlerts(a, [bad, gone, moved, slow, good]);
  await waitFor('four dead letters', async () => (await queueState(a.url, a.dlq)).messages === 4, 20_000);
  await waitFor('the queue empty', async () => (await queueState(a.url, a.queue)).messages === 0);
  assert.equal(r.byId(bad.alert.id).length, 3, 'exactly ALERT_MAX_ATTEMPTS tries');
  assert.equal(r.byId(gone.alert.id).length, 1, 'a 404 is not retried');
  assert.deepEqual(
    r.byId(moved.alert.id).map((x) => x.path),
    ['/moved'],
    'a redirect is neither retried nor followed',
  );
  assert.equal(r.byId(slow.alert.id).length, 3, 'a timeout is retried');
  assert.equal(r.byId(good.alert.id).length, 1);
  const dead = await drainDlq(a);
  const byId = (id: string) => dead.find((x) => x.headers['x-warren-alert-id'] === id);
  const b = byId(bad.alert.id);
  assert.ok(b);
  assert.equal(b.headers['x-warren-reason'], 'HTTP 500 after 3 attempts');
  assert.equal(b.headers['x-warren-attempts'], 3);
  assert.equal(b.headers['x-warren-last-status'], 500);
  assert.equal(b.headers['x-warren-webhook-host'], `127.0.0.1:${r.port}`);
  assert.equal(JSON.parse(b.body).body, bad.body, 'the dead letter is the original message');
  const g = byId(gone.alert.id);
  assert.match(String(g?.headers['x-warren-reason']), /^HTTP 404, not retried/);
  assert.match(String(byId(moved.alert.id)?.headers['x-warren-reason']), /^HTTP 302, not retried/);
  const t = byId(slow.alert.id);
  assert.equal(t?.headers['x-warren-reason'], 'timed out after 300 ms after 3 attempts');
  assert.equal(t?.headers['x-warren-last-status'], undefined);
  assert.equal(t?.headers['x-warren-last-error'], 'timed out after 300 ms');
  assert.match(String(t?.headers['x-warren-dead-lettered-at']), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  // Still delivering after dead-lettering.
  const later = message('later', `${r.url}/ok`);
  await publishAlerts(a, [later]);
  await waitFor('a later alert delivered', () => r.byId(later.alert.id).length === 1, 20_000);
  assert.equal(d.stats.deadLettered, 4);
  // The receiver fixed, a dead letter published again is tried again, and delivered.
  answers['/fail'] = 200;
  await publishAlerts(a, [JSON.parse(b.body)]);
  await waitFor('the replayed dead letter delivered', () => r.byId(bad.alert.id).length === 4, 20_000);
  assert.equal(r.byId(bad.alert.id).at(-1)?.answered, 200);
});

test('hostile messages are dead-lettered with a reason and the deliverer keeps running', async () => {
  const { a, r, d } = await setup();
  await r.listen();
  const badId = buildMessage({ ...makeAlert('x'), id: 'line\r\nbreak' }, `${r.url}/ok`, 'json', 's');
  // 900 bytes of UTF-8: no header value, and too long for an AMQP message_id.
  const wideId = buildMessage({ ...makeAlert('w'), id: '€'.repeat(300) }, `${r.url}/ok`, 'json', 's');
  const hostile = [
    'not json at all',
    JSON.stringify({ alert: 1, url: 'ftp://x' }),
    Buffer.alloc(2 * 1024 * 1024, 0x61),
    JSON.stringify(badId),
    JSON.stringify(wideId),
    JSON.stringify(buildMessage(makeAlert('cred'), `http://%E0:x@127.0.0.1:${r.port}/ok`, 'json', 's')),
  ];
  await publishAlerts(a, hostile);
  const good = message('after-hostile', `${r.url}/ok`);
  await publishAlerts(a, [good]);
  await waitFor('the valid one delivered', () => r.byId(good.alert.id).length === 1, 20_000);
  await waitFor('six dead letters', async () => (await queueState(a.url, a.dlq)).messages === 6, 20_000);
  await waitFor('the queue empty', async () => (await queueState(a.url, a.queue)).messages === 0);
  const reasons = (await drainDlq(a)).map((x) => String(x.headers['x-warren-reason']));
  assert.ok(
    reasons.some((x) => x.startsWith('not JSON')),
    reasons.join(' | '),
  );
  assert.ok(
    reasons.some((x) => x.startsWith('not an alert message: alert')),
    reasons.join(' | '),
  );
  assert.ok(
    reasons.some((x) => x.startsWith('too large: 2097152 bytes')),
    reasons.join(' | '),
  );
  const header = reasons.filter((x) => x.includes('cannot be sent as an HTTP header'));
  assert.equal(header.length, 2, reasons.join(' | '));
  assert.ok(
    reasons.some((x) => x.includes('not valid percent-encoding')),
    reasons.join(' | '),
  );
  assert.equal(d.consuming, true);
  assert.equal(d.stats.invalid, 3);
  assert.equal(r.received.length, 1, 'nothing hostile reached the receiver');
});

test('copies of one alert make one series of POSTs; a copy of a delivered alert is acked without a POST', async () => {
  const { a, r } = await setup({ ALERT_MAX_ATTEMPTS: '1000' });
  let refusals = 0;
  r.answer = () => (refusals++ < 5 ? 503 : 200);
  await r.listen();
  const m = message('copies', `${r.url}/hook`);
  await publishAlerts(a, [m, m, m]);
  await waitFor('delivered', () => r.byId(m.alert.id).some((x) => x.answered === 200), 20_000);
  await waitFor('the queue empty', async () => (await queueState(a.url, a.queue)).messages === 0);
  const seen = r.byId(m.alert.id);
  assert.equal(seen.filter((x) => x.answered === 200).length, 1, 'one delivery for three copies');
  assert.equal(seen.length, 6, 'five refusals then one success: the copies joined one series');
  await publishAlerts(a, [m]);
  await waitFor('the late copy acked', async () => (await queueState(a.url, a.queue)).messages === 0);
  const other = message('after-copies', `${r.url}/hook`);
  await publishAlerts(a, [other]);
  await waitFor('a later alert delivered', () => r.byId(other.alert.id).length === 1, 20_000);
  assert.equal(r.byId(m.alert.id).length, 6, 'no POST for the late copy');
});

test('at most 32 alerts are held at once; the rest wait in the queue', async () => {
  const { a, r } = await setup({ ALERT_TIMEOUT_MS: '60000' });
  r.answer = () => 'hold';
  await r.listen();
  await publishAlerts(
    a,
    Array.from({ length: 40 }, (_, i) => message(`held-${i}`, `${r.url}/hook`)),
  );
  await waitFor('32 requests held', () => r.holding === 32, 20_000);
  await waitFor('8 still ready in the queue', async () => (await queueState(a.url, a.queue)).messages === 8);
  assert.equal(r.holding, 32);
});
