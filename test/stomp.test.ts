// Publishing over STOMP (issue 11): a real STOMP client (stompit, plain TCP) sends to the local
// broker's STOMP plugin at `/topic/<prefix>.<cliente>.<evento>`, i.e. amq.topic with that routing
// key. A SEND with a `receipt` header is answered only after the broker's publisher confirm, and
// the `amqp-message-id` header becomes the AMQP message_id that dedupes an event without a body id.
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import stompit from 'stompit';
import { type TestEnv, testEnv, waitFor } from './support/helpers.js';
import {
  byClient,
  drainDlq,
  ensurePlugins,
  STOMP_PORT,
  settled,
  startAnalytics,
  TS,
} from './support/mqtt-stomp-fixture.js';

type Client = stompit.Client;

function connect(): Promise<Client> {
  return new Promise((resolve, reject) => {
    stompit.connect(
      {
        host: '127.0.0.1',
        port: STOMP_PORT,
        connectHeaders: { host: '/', login: 'guest', passcode: 'guest', 'heart-beat': '0,0' },
      },
      (err, client) => (err ? reject(err) : resolve(client)),
    );
  });
}

/**
 * One SEND, resolved on the broker's RECEIPT, which RabbitMQ sends only after its publisher confirm.
 * A broker ERROR frame fails the test (stompit raises it as an uncaught error, see the last test).
 */
function send(client: Client, headers: Record<string, string>, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const frame = client.send(
      { 'content-type': 'application/json', persistent: 'true', ...headers },
      { onReceipt: () => resolve(), onError: reject },
    );
    frame.end(body);
  });
}

function disconnect(client: Client): Promise<void> {
  return new Promise((resolve) => client.disconnect(() => resolve()));
}

describe('publishing over STOMP', () => {
  let env: TestEnv;
  before(async () => {
    await ensurePlugins();
    env = testEnv('stomp');
  });
  after(async () => {
    await env.cleanup();
  });

  it('counts receipted SENDs exactly; amqp-message-id dedupes an event without a body id', async () => {
    const a = await startAnalytics(env);
    const client = await connect();
    try {
      const dest = (cliente: string, evento: string) => `/topic/${env.id}.${cliente}.${evento}`;
      const noId = JSON.stringify({ timestamp: TS });
      const once = { destination: dest('cliente_uno', 'click'), 'amqp-message-id': `${env.id}-s1` };
      await send(client, once, noId);
      await send(client, once, noId); // a retry with the same header: counted once
      await send(
        client,
        { destination: dest('cliente_dos', 'view') },
        JSON.stringify({ id: `${env.id}-s2`, timestamp: TS }),
      );
      await send(client, { destination: dest('cliente_uno', 'click') }, noId); // no id anywhere: counted, not deduped
      await send(
        client,
        { destination: dest('cliente_uno', 'click') },
        JSON.stringify({ timestamp: 'nope' }),
      );
      await send(client, { destination: dest('cliente_uno', 'click') }, '[]');

      const { status, report } = await settled(a, 6);
      assert.deepEqual(byClient(report), { cliente_uno: { click: 2 }, cliente_dos: { view: 1 } });
      assert.equal(report.total, 3);
      assert.deepEqual(
        { processed: status.processed, duplicates: status.duplicates, invalid: status.invalid },
        { processed: 3, duplicates: 1, invalid: 2 },
      );
      assert.equal(status.withoutId, 1);

      const dead = await drainDlq(env);
      assert.deepEqual(dead.map((d) => d.body).sort(), ['[]', JSON.stringify({ timestamp: 'nope' })].sort());
      const bad = dead.find((d) => d.body !== '[]')!;
      assert.match(bad.reason, /timestamp: an RFC 3339 date-time/);
      assert.match(dead.find((d) => d.body === '[]')!.reason, /must be a JSON object/);
    } finally {
      await disconnect(client);
      await a.proc.kill();
    }
  });

  it('refuses a SEND with a message-id header (the STOMP server owns it): use amqp-message-id', async () => {
    // Raw frames: stompit throws from inside its stream on a text/plain ERROR frame (an uncaught
    // 'error' on the frame), so this exchange is spoken by hand. STOMP 1.2: COMMAND, headers, NUL.
    const frame = (cmd: string, h: Record<string, string>, body = '') =>
      `${cmd}\n${Object.entries(h)
        .map(([k, v]) => `${k}:${v}`)
        .join('\n')}\n\n${body}\0`;
    const socket = createConnection({ host: '127.0.0.1', port: STOMP_PORT });
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(frame('CONNECT', { 'accept-version': '1.2', host: '/', login: 'guest', passcode: 'guest' }));
    await waitFor('CONNECTED', () => got.startsWith('CONNECTED'), 10_000);
    const send = { destination: `/topic/${env.id}.cliente_uno.click`, 'message-id': 'x', receipt: 'r1' };
    socket.write(frame('SEND', send, JSON.stringify({ timestamp: TS })));
    // RabbitMQ ends each frame with NUL and a newline (its trailing_lf setting).
    await waitFor('the ERROR frame', () => /\0\n*ERROR\n[^\0]*\0/.test(got), 10_000);
    socket.end();
    await closed;
    const error = got.slice(got.indexOf('ERROR\n'));
    assert.match(error, /^message:Invalid header$/m);
    assert.match(error, /'message-id' is not allowed on 'SEND'/);
    assert.doesNotMatch(got, /RECEIPT/);
  });
});
