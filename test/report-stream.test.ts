// The live stream is bounded (src/analytics/stream.ts): at most STREAM_MAX open per instance
// (503 past it) and STREAM_MAX_PER_ADDRESS per client address (429), the client address read
// from X-Forwarded-For only when the peer is a trusted proxy; a reader that never reads is
// dropped once STREAM_MAX_BUFFER_BYTES wait for it, while the other readers keep receiving.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { AnalyticsHandler, type BatchCommitted } from '../src/analytics/consumer.js';
import { createMetrics } from '../src/analytics/metrics.js';
import { loadConfig } from '../src/config.js';
import { waitFor } from './support/helpers.js';
import { apiOn, kinds, withStore } from './support/store.js';

const sqlite = kinds.find((k) => k.name === 'sqlite')!;

interface Opened {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Messages received so far (for a 200). */
  batches: () => number;
  close: () => void;
}

function open(port: number, forwardedFor?: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/stream',
        headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
      },
      (res) => {
        let body = '';
        let batches = 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          batches += chunk.split('event: batch\n').length - 1;
          if (body.length > 4096) body = body.slice(-4096);
        });
        const out: Opened = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          get body() {
            return body;
          },
          batches: () => batches,
          close: () => req.destroy(),
        };
        if (res.statusCode === 200) resolve(out);
        else res.on('end', () => resolve(out));
      },
    );
    req.on('error', reject);
  });
}

test('streams per address (429) and per instance (503), each refused with Retry-After', () =>
  withStore(sqlite, async (store) => {
    const app = apiOn(store, {
      streams: { max: 3, maxPerAddress: 2, maxBufferBytes: 1024 * 1024 },
      trustedProxies: ['loopback'],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const held: Opened[] = [];
    try {
      held.push(await open(port, '192.0.2.1'), await open(port, '192.0.2.1'));
      assert.deepEqual(
        held.map((h) => h.status),
        [200, 200],
      );
      const third = await open(port, '192.0.2.1');
      assert.equal(third.status, 429);
      assert.equal(third.headers['retry-after'], '5');
      assert.equal(JSON.parse(third.body).error, 'rate_limited');
      assert.match(JSON.parse(third.body).message, /STREAM_MAX_PER_ADDRESS/);

      // Another address has its own share, up to the instance's bound.
      const other = await open(port, '192.0.2.2');
      assert.equal(other.status, 200);
      held.push(other);
      const past = await open(port, '192.0.2.3');
      assert.equal(past.status, 503);
      assert.equal(past.headers['retry-after'], '5');
      assert.equal(JSON.parse(past.body).error, 'overloaded');

      // A closed stream gives its place back.
      held.shift()?.close();
      await waitFor(
        'the closed stream to be released',
        async () => (await open(port, '192.0.2.1')).status === 200,
      );
    } finally {
      for (const h of held) h.close();
      await app.close();
    }
  }));

test('X-Forwarded-For from a peer that is not a trusted proxy is ignored', () =>
  withStore(sqlite, async (store) => {
    const app = apiOn(store, { streams: { max: 10, maxPerAddress: 1, maxBufferBytes: 1024 * 1024 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const first = await open(port, '192.0.2.1');
    try {
      assert.equal(first.status, 200);
      assert.equal((await open(port, '192.0.2.2')).status, 429, 'the peer address counts, not the header');
    } finally {
      first.close();
      await app.close();
    }
  }));

test('a reader that never reads is dropped; the others keep receiving', () =>
  withStore(sqlite, async (store) => {
    const metrics = createMetrics();
    const handler = new AnalyticsHandler(() => store, metrics, 'eventos.*.*');
    const maxBufferBytes = 64 * 1024;
    const app = apiOn(store, { handler, metrics, streams: { max: 10, maxPerAddress: 10, maxBufferBytes } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const healthy = await open(port);
    // The slow reader asks for the stream and never reads a byte of it.
    const slow = net.connect(port, '127.0.0.1');
    slow.pause();
    slow.write(`GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    try {
      await waitFor('both readers to be listening', () => handler.listenerCount('batch') === 2);
      const batch: BatchCommitted = { counted: 500, duplicates: 0, invalid: 0, at: new Date().toISOString() };
      const messageBytes = `event: batch\ndata: ${JSON.stringify(batch)}\n\n`.length;
      // Far more than the socket buffers of both ends can take (a few MB on loopback): a server
      // buffering without limit would never drop the reader.
      const limit = (64 * 1024 * 1024) / messageBytes;
      let sent = 0;
      while (handler.listenerCount('batch') === 2 && sent < limit) {
        for (let i = 0; i < 500; i++) handler.emit('batch', batch);
        sent += 500;
        // Let the sockets move (the healthy reader reads, the slow one does not).
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(
        handler.listenerCount('batch'),
        1,
        `the slow reader was not dropped after ${sent} messages`,
      );
      const droppedAfter = sent;
      for (let i = 0; i < 100; i++) handler.emit('batch', batch);
      sent += 100;
      await waitFor('the healthy reader to get every message', () => healthy.batches() === sent, 60_000);
      assert.ok(droppedAfter * messageBytes < 64 * 1024 * 1024);
    } finally {
      healthy.close();
      slow.destroy();
      await app.close();
    }
  }));

test('TRUSTED_PROXIES: a bad entry stops the start naming the variable; none believes no header', () => {
  assert.throws(() => loadConfig({ TRUSTED_PROXIES: 'loopback,not-an-address' }), /TRUSTED_PROXIES/);
  assert.throws(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8/1' }), /TRUSTED_PROXIES/);
  assert.equal(
    loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, loopback' }).trustedProxies,
    '10.0.0.0/8, loopback',
  );
  assert.equal(loadConfig({}).trustedProxies, 'loopback,uniquelocal');
  assert.equal(loadConfig({ TRUSTED_PROXIES: 'none' }).trustedProxies, 'none');
});
