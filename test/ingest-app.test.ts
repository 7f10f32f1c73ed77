// The gateway's happy paths and its 503s, against the real broker: what a 202 means (the events
// are in the queue, with the contract's body and AMQP properties), how ids, clients and
// timestamps are filled, the documentation and metrics, and refusing instead of buffering.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import { AMQP_URL, freePort, getJson, queueDepth, waitFor } from './support/helpers.js';
import { json, metricValue, startIngest } from './support/ingest-fixture.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Takes every message now in the queue (body parsed, properties kept). */
async function drain(queue: string, expected: number) {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const out: amqp.GetMessage[] = [];
    await waitFor(`${expected} messages in ${queue}`, async () => {
      for (;;) {
        const m = await ch.get(queue, { noAck: true });
        if (!m) break;
        out.push(m);
      }
      return out.length >= expected;
    });
    return out.map((m) => ({ body: JSON.parse(m.content.toString()), props: m.properties }));
  } finally {
    await conn.close();
  }
}

test('a 202 means every event is in the queue, with its fields filled and the AMQP properties set', async (t) => {
  const f = await startIngest(t);
  const before = Date.now();
  const res = await f.post(
    '/events',
    [
      { id: 'own-id-1', cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T14:00:00+02:00' },
      { evento: 'view', extra: { ignored: true } },
      { cliente: 'cliente_dos', evento: 'buy:ok' },
    ],
    { 'x-client-name': 'cliente_tres' },
  );
  assert.equal(res.statusCode, 202, res.body);
  const { accepted, ids } = json<{ accepted: number; ids: string[] }>(res);
  assert.equal(accepted, 3);
  assert.equal(ids[0], 'own-id-1');
  assert.match(ids[1]!, UUID_V7);
  assert.match(ids[2]!, UUID_V7);
  const msgs = await drain(f.te.queue, 3);
  const byId = new Map(msgs.map((m) => [m.body.id, m]));
  const first = byId.get('own-id-1')!;
  assert.deepEqual(first.body, {
    id: 'own-id-1',
    cliente: 'cliente_uno',
    evento: 'click',
    timestamp: '2025-04-13T14:00:00+02:00',
  });
  assert.equal(first.props.contentType, 'application/json');
  assert.equal(first.props.deliveryMode, 2);
  assert.equal(first.props.messageId, 'own-id-1');
  assert.equal(first.props.type, 'click');
  assert.equal(first.props.appId, 'cliente_uno');
  const second = byId.get(ids[1]!)!;
  assert.equal(second.body.cliente, 'cliente_tres', 'X-Client-Name fills a missing cliente');
  assert.deepEqual(
    Object.keys(second.body).sort(),
    ['cliente', 'evento', 'id', 'timestamp'],
    'extras dropped',
  );
  const ts = Date.parse(second.body.timestamp);
  assert.ok(ts >= before - 1000 && ts <= Date.now() + 1000, 'timestamp defaults to now');
  assert.match(second.body.timestamp, /Z$/);
  assert.equal(byId.get(ids[2]!)!.body.cliente, 'cliente_dos', 'the body wins over the header');
});

test('Idempotency-Key makes the ids <key>:<index>, so a retry maps to the same ids', async (t) => {
  const f = await startIngest(t);
  const batch = [
    { cliente: 'c', evento: 'a' },
    { id: 'mine', cliente: 'c', evento: 'b' },
    { cliente: 'c', evento: 'c' },
  ];
  const a = json<{ ids: string[] }>(await f.post('/events', batch, { 'idempotency-key': 'req-42' }));
  const b = json<{ ids: string[] }>(await f.post('/events', batch, { 'idempotency-key': 'req-42' }));
  assert.deepEqual(a.ids, ['req-42:0', 'mine', 'req-42:2']);
  assert.deepEqual(b.ids, a.ids);
  const send = json<{ ids: string[] }>(
    await f.post('/send', { message: 'm' }, { 'idempotency-key': 'seed-1' }),
  );
  assert.deepEqual(send.ids, ['seed-1:0']);
});

test('/send: the seed call becomes one `send` event of X-Client-Name, default cliente_x', async (t) => {
  const f = await startIngest(t);
  const seed = await f.post('/send', { message: 'mensaje de prueba' });
  assert.equal(seed.statusCode, 202, seed.body);
  const named = await f.post('/send', { message: 'hola' }, { 'x-client-name': 'cliente_uno' });
  assert.equal(named.statusCode, 202);
  const bare = await f.inject({ method: 'POST', url: '/send' });
  assert.equal(bare.statusCode, 202, 'a body-less POST /send works too');
  const msgs = await drain(f.te.queue, 3);
  const clientes = msgs.map((m) => m.body.cliente).sort();
  assert.deepEqual(clientes, ['cliente_uno', 'cliente_x', 'cliente_x']);
  assert.ok(msgs.every((m) => m.body.evento === 'send' && UUID_V7.test(m.body.id)));
});

test('health, readiness, docs and the OpenAPI document', async (t) => {
  const f = await startIngest(t);
  assert.equal((await f.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const ready = await f.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.equal(json(ready).broker, true);
  const page = await f.inject({ method: 'GET', url: '/docs' });
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  const css = await f.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
  assert.equal(css.statusCode, 200, 'the page’s assets are served');
  const doc = json<{ openapi: string; paths: Record<string, Record<string, { responses: object }>> }>(
    await f.inject({ method: 'GET', url: '/docs/json' }),
  );
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/events', '/send']) {
    const post = doc.paths[p]?.post;
    assert.ok(post, `${p} documented`);
    assert.deepEqual(Object.keys(post.responses).sort(), [
      '202',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
      '503',
    ]);
  }
});

test('/metrics counts requests, events, rejections and names the instance (listening on a port)', async (t) => {
  const port = await freePort();
  const f = await startIngest(t, { INGEST_PORT: String(port) });
  assert.equal(await f.svc.start(), port);
  const base = `http://127.0.0.1:${port}`;
  const post = (body: string) =>
    fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal((await post('[{"cliente":"c","evento":"a"},{"cliente":"c","evento":"b"}]')).status, 202);
  assert.equal((await post('{')).status, 400);
  const { status, body } = await getJson<string>(`${base}/metrics`);
  assert.equal(status, 200);
  assert.equal(metricValue(body, 'warren_ingest_events_accepted_total'), 2);
  assert.equal(metricValue(body, 'warren_ingest_rejections_total', 'code="invalid_json"'), 1);
  assert.equal(
    metricValue(body, 'warren_ingest_http_requests_total', 'route="/events",method="POST",status="202"'),
    1,
  );
  assert.equal(metricValue(body, 'warren_ingest_publish_confirm_seconds_count'), 1);
  assert.equal(metricValue(body, 'warren_ingest_broker_up'), 1);
  assert.match(
    body,
    new RegExp(
      `warren_ingest_instance_info\\{instance="[^"]+:${port}",host="[^"]+",port="${port}",pid="${process.pid}"\\} 1`,
    ),
  );
});

test('broker unreachable: 503 broker_unavailable with Retry-After at once, readyz 503, healthz 200', async (t) => {
  const deadPort = await freePort();
  const f = await startIngest(
    t,
    { AMQP_URL: `amqp://guest:guest@127.0.0.1:${deadPort}` },
    { waitReady: false },
  );
  for (const url of ['/events', '/send']) {
    const started = Date.now();
    const res = await f.post(url, { cliente: 'c', evento: 'a' });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(json(res).error, 'broker_unavailable');
    assert.equal(res.headers['retry-after'], '1');
    assert.ok(Date.now() - started < 1000, 'refused at once, not after the deadline');
  }
  assert.equal((await f.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
  assert.equal((await f.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  assert.equal(f.svc.publisher.pending, 0, 'nothing is buffered for later');
});

test('more events waiting for confirms than INGEST_MAX_PENDING: 503 instead of buffering', async (t) => {
  const f = await startIngest(t, { INGEST_MAX_PENDING: '5' });
  const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ cliente: 'c', evento: `e${i}` }));
  const over = await f.post('/events', batch(6));
  assert.equal(over.statusCode, 503);
  assert.equal(json(over).error, 'broker_unavailable');
  assert.equal(over.headers['retry-after'], '1');
  assert.equal((await f.post('/events', batch(5))).statusCode, 202);
});

test('shutdown: requests in flight finish, then the publisher is flushed; nothing accepted is lost', async (t) => {
  const port = await freePort();
  const f = await startIngest(t, { INGEST_PORT: String(port) });
  await f.svc.start();
  const body = JSON.stringify(Array.from({ length: 100 }, () => ({ cliente: 'c', evento: 'a' })));
  const posts = Array.from({ length: 10 }, () =>
    fetch(`http://127.0.0.1:${port}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
      .then(async (r) => ({
        status: r.status,
        accepted: r.status === 202 ? ((await r.json()) as { accepted: number }).accepted : 0,
      }))
      .catch(() => ({ status: 0, accepted: 0 })),
  );
  await waitFor('events waiting for confirms', () => f.svc.publisher.pending > 0, 10_000, 1);
  const closing = Date.now();
  await f.svc.close();
  assert.ok(Date.now() - closing < 5000, 'keep-alive connections do not hold shutdown');
  const results = await Promise.all(posts);
  assert.ok(
    results.some((r) => r.status === 202),
    JSON.stringify(results),
  );
  // 503: arrived after close began; 0: its connection was closed before the request was read.
  assert.deepEqual(
    results.filter((r) => ![202, 503, 0].includes(r.status)),
    [],
    'only 202, 503 or no answer',
  );
  assert.equal(f.svc.publisher.pending, 0);
  const accepted = results.reduce((n, r) => n + r.accepted, 0);
  await waitFor(
    'every accepted event in the queue',
    async () => (await queueDepth(f.te.queue)) === accepted,
    10_000,
  );
});
