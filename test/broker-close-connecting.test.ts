// A BrokerConnection closed while it is still setting up a new connection (topology, channels)
// must not keep that connection: close() came first, so the connection is closed once its setup
// ends, and nothing of it holds the process (a service stopped right after start exited only
// when its heartbeat timers were gone, that is, never).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { BrokerConnection } from '../src/broker/index.js';
import { createLogger } from '../src/log.js';
import { waitFor } from './support/helpers.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

test('closed during its setup, a new connection is closed as soon as the setup ends', async () => {
  const broker = new BrokerConnection({
    urls: [AMQP_URL],
    log: createLogger('error', 'test'),
    name: 'close-test',
  });
  let opened: ChannelModel | undefined;
  let release!: () => void;
  const setupDone = new Promise<void>((r) => {
    release = r;
  });
  broker.onConnect(async (conn) => {
    opened = conn;
    await setupDone;
  });
  let closedEvent = false;
  broker.start();
  await waitFor('the connection opened and its setup began', () => opened, 10_000);
  opened!.on('close', () => {
    closedEvent = true;
  });
  await broker.close();
  release();
  await waitFor('the connection opened before close() is closed', () => closedEvent, 5000);
  assert.equal(broker.connected, false);
});
