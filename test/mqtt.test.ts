// Publishing over MQTT (issue 11): a real MQTT 3.1.1 client (mqtt.js) publishes QoS 1 to the local
// broker's MQTT plugin; the topic `<prefix>/<cliente>/<evento>` becomes the routing key in amq.topic,
// the exchange-to-exchange binding brings it to the test's fanout exchange, and `warren analytics`
// counts it exactly once, taking cliente/evento from the topic when the body omits them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { type TestEnv, testEnv } from './support/helpers.js';
import {
  byClient,
  drainDlq,
  ensurePlugins,
  MQTT_PORT,
  settled,
  startAnalytics,
  TS,
} from './support/mqtt-stomp-fixture.js';

describe('publishing over MQTT', () => {
  let env: TestEnv;
  before(async () => {
    await ensurePlugins();
    env = testEnv('mqtt');
  });
  after(async () => {
    await env.cleanup();
  });

  it('counts QoS 1 publishes exactly, per client and event type, names from the topic or the body', async () => {
    const a = await startAnalytics(env);
    // No username: the plugin logs in as its default user (guest), which it allows from loopback.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, {
      protocolVersion: 4,
      clean: true,
      clientId: `warren-${env.id}`,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    try {
      const p = env.id; // TOPIC_PATTERN is `<id>.#`: topics start with `<id>/`
      const send = (topic: string, body: unknown) =>
        client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
      // publishAsync resolves on PUBACK, which the plugin sends once the broker confirmed the
      // publish (routed and, for the quorum queue, written by a majority).
      for (let i = 0; i < 3; i++) await send(`${p}/cliente_uno/click`, { id: `${p}-a${i}`, timestamp: TS });
      await send(`${p}/cliente_uno/click`, { id: `${p}-a0`, timestamp: TS }); // same id: counted once
      for (let i = 0; i < 2; i++) await send(`${p}/cliente_dos/view`, { timestamp: TS }); // no id at all
      await send(`${p}/cliente_uno/click`, {
        id: `${p}-c`,
        cliente: 'cliente_tres',
        evento: 'buy',
        timestamp: TS,
      });
      await send(`${p}/cliente_uno/page/view`, { timestamp: TS }); // 3 levels: names nothing
      await send(`${p}/cliente@uno/click`, { timestamp: TS }); // `@` breaks the cliente rule
      await send(`${p}/cliente_uno/click`, 'not json');

      const { status, report } = await settled(a, 10);
      assert.deepEqual(byClient(report), {
        cliente_uno: { click: 3 },
        cliente_dos: { view: 2 },
        cliente_tres: { buy: 1 }, // the body's own names win over the topic's
      });
      assert.equal(report.total, 6);
      assert.deepEqual(
        { processed: status.processed, duplicates: status.duplicates, invalid: status.invalid },
        { processed: 6, duplicates: 1, invalid: 3 },
      );
      // MQTT 3.1.1 carries no message id the broker keeps: events without a body id are not deduplicated.
      assert.equal(status.withoutId, 2);

      const dead = await drainDlq(env);
      assert.equal(dead.length, 3);
      const byKey = Object.fromEntries(dead.map((d) => [d.routingKey, d]));
      // The plugin maps `/` to `.`; dead-lettering keeps the routing key, so the verdict can be recomputed.
      assert.match(
        byKey[`${p}.cliente_uno.page.view`]!.reason,
        /cliente: required.*is not .*<cliente>\.<evento>/,
      );
      assert.match(byKey[`${p}.cliente@uno.click`]!.reason, /cliente: .*taken from the routing key/);
      assert.match(byKey[`${p}.cliente_uno.click`]!.reason, /must be UTF-8 JSON/);
      for (const d of dead) assert.equal(d.death, 'rejected');
    } finally {
      await client.endAsync();
      await a.proc.kill();
    }
  });
});
