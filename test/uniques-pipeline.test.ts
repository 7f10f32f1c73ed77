// usuario end to end against the real RabbitMQ: through the gateway (/events, a retried request,
// /send) and straight over AMQP (a publisher outside Warren, publishing the same event twice),
// into the analytics service, out of /api/v1/uniques and /api/v1/report. Retries and copies add
// nobody; events without a usuario are counted and add nobody.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build as buildAnalytics } from '../src/analytics/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createClient, SdkError } from '../src/sdk/index.js';
import { AMQP_URL, getJson, publishRaw, testEnv, waitFor } from './support/helpers.js';
import { LOG_LEVEL, startIngest } from './support/ingest-fixture.js';

const TS = '2025-04-13T12:00:00Z';

test('usuario travels from the gateway and from AMQP to the uniques, once per user', async (t) => {
  const te = testEnv('uniques');
  const ingest = await startIngest(t, {}, { te });
  const analytics = buildAnalytics(
    loadConfig({ ...te.env, ANALYTICS_PORT: '0', LOG_LEVEL }),
    createLogger(LOG_LEVEL, 'analytics'),
  );
  t.after(() => analytics.close());
  const port = await analytics.start();
  const api = (path: string) => getJson<Record<string, unknown>>(`http://127.0.0.1:${port}${path}`);

  const batch = [
    { cliente: 'cliente_uno', evento: 'click', timestamp: TS, usuario: 'ana' },
    { cliente: 'cliente_uno', evento: 'view', timestamp: TS, usuario: 'ana' },
    { cliente: 'cliente_uno', evento: 'click', timestamp: TS, usuario: 'björn' },
    { cliente: 'cliente_uno', evento: 'click', timestamp: TS },
  ];
  const post = () => ingest.post('/events', batch, { 'idempotency-key': 'uniq-1' });
  assert.equal((await post()).statusCode, 202);
  assert.equal((await post()).statusCode, 202, 'a retried request: the same ids');
  const send = await ingest.post(
    '/send',
    { message: 'hola', usuario: 'carla' },
    { 'x-client-name': 'cliente_uno' },
  );
  assert.equal(send.statusCode, 202, send.body);
  const bad = await ingest.post('/events', { cliente: 'cliente_uno', evento: 'click', usuario: 'tab\there' });
  assert.equal(bad.statusCode, 400);
  assert.equal((bad.json() as { details: { field: string }[] }).details[0]?.field, 'usuario');

  // A publisher outside Warren, its event published twice (as after a lost confirm).
  const raw = JSON.stringify({
    id: 'raw-1',
    cliente: 'cliente_uno',
    evento: 'buy',
    timestamp: TS,
    usuario: 'dan',
  });
  await publishRaw(te.exchange, [raw, raw]);

  // The SDK: identify() sets the actor of the events tracked after it; null leaves one out.
  const sdk = createClient({
    transport: 'amqp',
    amqpUrl: AMQP_URL,
    exchange: te.exchange,
    cliente: 'cliente_sdk',
  });
  t.after(() => sdk.close());
  assert.throws(() => sdk.identify(''), SdkError);
  sdk.track('open');
  sdk.identify('eve');
  sdk.track('open', { timestamp: TS });
  sdk.track('open', { timestamp: TS, usuario: 'fay' });
  sdk.track('open', { timestamp: TS, usuario: null });
  sdk.identify(undefined);
  sdk.track('open', { timestamp: TS });
  await sdk.flush();

  // 4 + 1 + 1 events counted: the retried request and the copy are recognised; 5 from the SDK.
  await waitFor(
    'every event counted',
    async () => ((await api('/reporte')).body as { total: number }).total >= 11,
    30_000,
  );
  assert.deepEqual((await api('/reporte')).body, { total: 11, clientes: { cliente_uno: 6, cliente_sdk: 5 } });
  assert.equal(((await api('/api/v1/uniques?cliente=cliente_sdk')).body as { usuarios: number }).usuarios, 2);
  // /send stamps now as its time: ask all time.
  assert.deepEqual((await api('/api/v1/uniques?cliente=cliente_uno')).body, {
    from: null,
    to: null,
    usuarios: 4,
  });
  assert.equal(
    ((await api(`/api/v1/uniques?evento=click&from=${TS}`)).body as { usuarios: number }).usuarios,
    2,
  );
  const report = (await api('/api/v1/report')).body as { clientes: { cliente: string; usuarios: number }[] };
  assert.deepEqual(
    report.clientes.map((c) => [c.cliente, c.usuarios]),
    [
      ['cliente_uno', 4],
      ['cliente_sdk', 2],
    ],
  );
  // Users are scoped per client: all clients together are the sum here (no name is shared).
  assert.equal(((await api('/api/v1/uniques')).body as { usuarios: number }).usuarios, 6);
});
