// The SDK's HTTP transport against the real stack: SDK → `warren ingest` (AMQP through a TcpProxy,
// so the broker can "stop") → RabbitMQ → `warren analytics`. Ingest is killed and started again and
// the broker vanishes for a few seconds while 20,000 events are tracked; every one is counted once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BufferFullError, createClient, type RetryInfo } from '../src/sdk/index.js';
import {
  freePort,
  queueDepth,
  sleep,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { report, startAnalytics, startIngest } from './support/sdk-stack.js';
import { TcpProxy } from './support/tcp-proxy.js';

const TOTAL = 20_000;

describe('SDK over HTTP, through ingest restarts and a broker outage', () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  let aPort: number;
  let iPort: number;
  const children: WarrenProcess[] = [];
  before(async () => {
    env = testEnv('sdkh');
    proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5672 });
    await proxy.up();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await proxy.down();
    await env.cleanup();
  });

  it('counts every one of 20,000 tracked events exactly once', async () => {
    aPort = await freePort();
    iPort = await freePort();
    children.push(await startAnalytics(env, aPort));
    const viaProxy = { AMQP_URL: proxy.url, PUBLISH_TIMEOUT_MS: '2000' };
    let ingest = await startIngest(env, iPort, viaProxy);
    children.push(ingest);

    const client = createClient({
      transport: 'http',
      url: `http://127.0.0.1:${iPort}`,
      cliente: 'sdk_http',
      batchSize: 100,
      flushIntervalMs: 50,
      maxBufferEvents: 4000,
      backoff: { baseMs: 50, maxMs: 1000 },
    });
    const retries: RetryInfo[] = [];
    client.on('retry', (r) => retries.push(r));
    let full = 0;

    // The producer paces itself (about 2,000 events/s) so the disruptions land mid-stream.
    const producer = (async () => {
      for (let i = 0; i < TOTAL; ) {
        try {
          client.track(i % 3 === 0 ? 'view' : 'click');
          i++;
        } catch (err) {
          assert.ok(err instanceof BufferFullError, String(err));
          full++;
          await client.waitForSpace();
        }
        if (i % 100 === 0) await sleep(50);
      }
    })();

    await waitFor('3,000 confirmed', () => client.stats.confirmed >= 3000, 60_000, 20);
    ingest.child.kill('SIGKILL');
    await ingest.exited;
    ingest = await startIngest(env, iPort, viaProxy, false);
    children.push(ingest);

    await waitFor('8,000 confirmed', () => client.stats.confirmed >= 8000, 60_000, 20);
    await proxy.down();
    const downAt = Date.now();
    await waitFor('ingest sees the broker gone', async () => {
      const r = await fetch(`http://127.0.0.1:${iPort}/readyz`);
      return r.status === 503;
    });
    // The outage lasts a few seconds on purpose; what is tracked meanwhile must wait and retry.
    await waitFor('an outage of 3 s', () => Date.now() - downAt >= 3000, 10_000, 50);
    await proxy.up();

    await producer;
    await client.close();
    assert.equal(client.stats.confirmed, TOTAL);
    assert.equal(client.stats.rejected, 0);
    assert.ok(
      retries.some((r) => r.reason.includes('503')),
      `expected 503 retries: ${JSON.stringify(retries.slice(0, 5))}`,
    );
    assert.ok(
      retries.some((r) => !r.reason.startsWith('HTTP')),
      'expected connection-error retries',
    );

    const rep = await waitFor(
      'all counted',
      async () => {
        const r = await report(aPort);
        return r.total >= TOTAL && (await queueDepth(env.queue)) === 0 ? r : undefined;
      },
      90_000,
      200,
    );
    assert.deepEqual(rep, { total: TOTAL, clientes: { sdk_http: TOTAL } });
    process.stderr.write(`sdk-http: ${retries.length} retries, buffer full ${full} times\n`);
  });

  it('runs `warren client --http` on the SDK', async () => {
    const c = warren(
      [
        'client',
        '--name',
        'sdk_cli',
        '--rate',
        '0',
        '--count',
        '3000',
        '--http',
        `http://127.0.0.1:${iPort}`,
      ],
      env.env,
    );
    assert.equal(await c.exited, 0, c.output());
    assert.equal(c.stdout().trim().split('\n').at(-1), '3000 confirmed');
    const rep = await waitFor('counted', async () => {
      const r = await report(aPort);
      return r.clientes.sdk_cli === 3000 ? r : undefined;
    });
    assert.equal(rep.total, TOTAL + 3000);
  });
});
