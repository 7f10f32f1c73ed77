// usuario over MQTT and STOMP (issue #19): events published through the broker's own plugins (not
// Mosquitto: RabbitMQ's MQTT_PORT and STOMP_PORT) with a usuario in the body add their users to
// /api/v1/uniques like any other event, once per user, and a redelivered id adds nobody; on both
// stores.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import stompit from 'stompit';
import { getJson, pgDatabase, type TestEnv, testEnv } from './support/helpers.js';
import {
  ensurePlugins,
  MQTT_PORT,
  STOMP_PORT,
  settled,
  startAnalytics,
  TS,
} from './support/mqtt-stomp-fixture.js';

function stompConnect(): Promise<stompit.Client> {
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

/** One SEND, resolved on the broker's RECEIPT (sent after its publisher confirm). */
function stompSend(client: stompit.Client, destination: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const frame = client.send(
      { destination, 'content-type': 'application/json', persistent: 'true' },
      { onReceipt: () => resolve(), onError: reject },
    );
    frame.end(JSON.stringify(body));
  });
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`usuario over MQTT and STOMP (${kind})`, () => {
    let env: TestEnv;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      await ensurePlugins();
      env = testEnv(`uqms${kind}`);
      if (kind === 'postgres') {
        const db = await pgDatabase(`uqms_${randomBytes(4).toString('hex')}`);
        env.env.DATABASE_URL = db.url;
        drop = db.drop;
      }
    });
    after(async () => {
      await env.cleanup();
      await drop?.();
    });

    it('adds the users of MQTT and STOMP events to /api/v1/uniques, once each', async () => {
      const a = await startAnalytics(env);
      const p = env.id; // TOPIC_PATTERN is `<id>.#`
      const m = await mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, {
        protocolVersion: 4,
        clean: true,
        clientId: `warren-${env.id}`,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      const s = await stompConnect();
      try {
        const mq = (evento: string, body: unknown) =>
          m.publishAsync(`${p}/cliente_uno/${evento}`, JSON.stringify(body), { qos: 1 });
        await mq('click', { id: `${p}-m1`, timestamp: TS, usuario: 'ana' });
        await mq('view', { id: `${p}-m2`, timestamp: TS, usuario: 'ana' });
        await mq('click', { id: `${p}-m3`, timestamp: TS, usuario: 'bo' });
        // The same id again, with another usuario: a redelivery, it adds nobody.
        await mq('click', { id: `${p}-m3`, timestamp: TS, usuario: 'zed' });
        const st = (evento: string, body: unknown) => stompSend(s, `/topic/${p}.cliente_uno.${evento}`, body);
        await st('click', { id: `${p}-s1`, timestamp: TS, usuario: 'bo' });
        await st('view', { id: `${p}-s2`, timestamp: TS, usuario: 'cy' });
        await st('view', { id: `${p}-s3`, timestamp: TS }); // no usuario: counted, nobody added
        await stompSend(s, `/topic/${p}.cliente_dos.view`, { id: `${p}-s4`, timestamp: TS, usuario: 'ana' });

        const { report } = await settled(a, 8);
        assert.equal(report.total, 7);
        const uniques = async (q: string) =>
          (await getJson<{ usuarios: number }>(`${a.base}/api/v1/uniques?${q}`)).body.usuarios;
        assert.equal(await uniques('cliente=cliente_uno'), 3, 'ana, bo, cy (zed came with a known id)');
        assert.equal(await uniques('cliente=cliente_uno&evento=click'), 2, 'ana and bo clicked');
        assert.equal(await uniques('cliente=cliente_dos'), 1);
        // Users are per client: cliente_dos's ana is another user.
        assert.equal(await uniques(''), 4);
      } finally {
        await m.endAsync();
        await new Promise<void>((r) => s.disconnect(() => r()));
        await a.proc.kill();
      }
    });
  });
}
