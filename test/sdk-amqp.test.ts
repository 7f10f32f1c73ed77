// The SDK's AMQP transport against the real broker (through a TcpProxy that drops every connection
// mid-stream): close() resolves once the broker confirmed everything, and analytics counts each
// event once although unconfirmed messages were published again after the cut.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, SdkError } from '../src/sdk/index.js';
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
import { report, startAnalytics } from './support/sdk-stack.js';
import { TcpProxy } from './support/tcp-proxy.js';

const TOTAL = 5000;

describe('SDK over AMQP', () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  const children: WarrenProcess[] = [];
  before(async () => {
    env = testEnv('sdka');
    proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5672 });
    await proxy.up();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await proxy.down();
    await env.cleanup();
  });

  it('confirms every event before close() returns, through a dropped connection, and counts each once', async () => {
    const topo = warren(['topology'], env.env);
    assert.equal(await topo.exited, 0, topo.output());
    assert.throws(
      () => createClient({ transport: 'amqp', amqpUrl: proxy.url } as never),
      (e: unknown) => e instanceof SdkError && e.code === 'invalid_options',
    );
    const client = createClient({
      transport: 'amqp',
      amqpUrl: proxy.url,
      exchange: env.exchange,
      cliente: 'sdk_amqp',
      batchSize: 100,
      flushIntervalMs: 20,
    });
    const producer = (async () => {
      for (let i = 0; i < TOTAL; i++) {
        client.track(i % 2 ? 'click' : 'view', i === 0 ? { cliente: 'sdk_amqp_otro' } : {});
        if (i % 100 === 99) await sleep(10);
      }
    })();
    await waitFor('1,000 confirmed', () => client.stats.confirmed >= 1000, 30_000, 10);
    proxy.cut();
    await producer;
    await client.close();
    assert.equal(client.stats.confirmed, TOTAL);
    // Nothing consumes yet: every confirmed event is in the queue (copies re-sent after the cut too).
    const depth = await queueDepth(env.queue);
    assert.ok(depth >= TOTAL, `queue holds ${depth} < ${TOTAL}`);

    const port = await freePort();
    children.push(await startAnalytics(env, port));
    const rep = await waitFor(
      'all counted',
      async () => {
        const r = await report(port);
        return r.total >= TOTAL && (await queueDepth(env.queue)) === 0 ? r : undefined;
      },
      60_000,
      200,
    );
    assert.deepEqual(rep, { total: TOTAL, clientes: { sdk_amqp: TOTAL - 1, sdk_amqp_otro: 1 } });
  });
});
