// Slow clients (slowloris) against a real ingest on loopback: many connections that trickle their
// headers one byte a second are cut at HTTP_HEADERS_TIMEOUT_MS, while a normal client keeps
// getting 202 within a second; connections beyond HTTP_MAX_CONNECTIONS are closed at once;
// analytics and the panel do the same.
// Bounded in count and time, loopback only.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { build as buildPanel } from '../src/panel/server.js';
import { freePort, sleep, testEnv, waitFor } from './support/helpers.js';
import { LOG_LEVEL, startIngest } from './support/ingest-fixture.js';

const SLOW = 200;
const HEADERS_TIMEOUT_MS = 2000;

interface Slow {
  socket: Socket;
  closedAt: number | undefined;
}

function openSlow(port: number, until: number): Slow {
  const socket = connect(port, '127.0.0.1');
  const s: Slow = { socket, closedAt: undefined };
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.on('close', () => {
    s.closedAt = Date.now();
  });
  socket.once('connect', () => {
    socket.write('POST /events HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => {
      if (s.closedAt !== undefined || Date.now() > until) return clearInterval(drip);
      socket.write('X'); // one byte a second, never finishing a header line
    }, 1000);
  });
  return s;
}

test('slowloris: trickling connections are cut at the headers timeout; /events answers within 1 s', async (t) => {
  const f = await startIngest(t, {
    INGEST_PORT: '0',
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: '5000',
  });
  const port = await f.svc.start();
  const started = Date.now();
  const until = started + 12_000; // the attack never lasts longer than this
  const slow = Array.from({ length: SLOW }, () => openSlow(port, until));
  try {
    const { maxLatency, lastClose, requests } = await attack(port, slow, started, until);
    t.diagnostic(
      `${SLOW} slow connections, all cut ${lastClose} ms after they opened; ${requests} normal requests, slowest ${maxLatency} ms`,
    );
  } finally {
    for (const s of slow) s.socket.destroy(); // before ingest closes: it waits for open requests
  }
});

async function attack(port: number, slow: Slow[], started: number, until: number) {
  await waitFor(
    'the slow connections open',
    () => slow.every((s) => s.socket.readyState === 'open' || s.closedAt),
    10_000,
  );

  // A normal client, a new connection each time, all through the attack.
  const latencies: number[] = [];
  while (slow.some((s) => s.closedAt === undefined) && Date.now() < until) {
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ cliente: 'cliente_uno', evento: 'click' }),
      signal: AbortSignal.timeout(5000),
    });
    await res.text();
    latencies.push(Date.now() - t0);
    assert.equal(res.status, 202);
    await sleep(200);
  }
  const open = slow.filter((s) => s.closedAt === undefined).length;
  assert.equal(open, 0, `${open} slow connections still open after ${Date.now() - started} ms`);
  const lastClose = Math.max(...slow.map((s) => s.closedAt ?? Number.POSITIVE_INFINITY)) - started;
  // The timeout plus Node's check interval, with room for a loaded machine.
  assert.ok(lastClose < HEADERS_TIMEOUT_MS + 5000, `the last slow connection closed after ${lastClose} ms`);
  assert.ok(latencies.length >= 3, `the normal client was measured ${latencies.length} times`);
  assert.ok(Math.max(...latencies) < 1000, `normal requests took ${latencies.join(', ')} ms`);
  return { maxLatency: Math.max(...latencies), lastClose, requests: latencies.length };
}

test('connections beyond HTTP_MAX_CONNECTIONS are closed at once', async (t) => {
  const f = await startIngest(t, { INGEST_PORT: '0', HTTP_MAX_CONNECTIONS: '20' });
  const port = await f.svc.start();
  const until = Date.now() + 10_000;
  const socks = Array.from({ length: 30 }, () => openSlow(port, until));
  try {
    await waitFor('the extra connections closed', () => socks.filter((s) => s.closedAt).length >= 10, 5000);
    assert.equal(socks.filter((s) => s.closedAt).length, 10, 'only those beyond the bound');
  } finally {
    for (const s of socks) s.socket.destroy();
  }
});

// README: "ingest, analytics and the panel cut a connection that has not sent its headers within
// HTTP_HEADERS_TIMEOUT_MS ... and at most HTTP_MAX_CONNECTIONS connections".
const OTHERS: [
  string,
  (env: Record<string, string>) => { start(): Promise<number>; close(): Promise<void> },
][] = [
  [
    'analytics',
    (env) =>
      buildAnalytics(loadConfig({ ...env, ANALYTICS_PORT: '0' }), createLogger(LOG_LEVEL, 'analytics')),
  ],
  [
    'the panel',
    (env) => buildPanel(loadConfig({ ...env, PANEL_PORT: '0' }), createLogger(LOG_LEVEL, 'panel')),
  ],
];

for (const [name, build] of OTHERS) {
  test(`${name} cuts a trickling connection at the headers timeout and closes those beyond HTTP_MAX_CONNECTIONS`, async (t) => {
    const te = testEnv('slow_others');
    const env = { ...te.env, LOG_LEVEL, ANALYTICS_URL: `http://127.0.0.1:${await freePort()}` };
    const bounded = build({ ...env, HTTP_MAX_CONNECTIONS: '5' });
    const timed = build({ ...env, HTTP_HEADERS_TIMEOUT_MS: '1000' });
    t.after(async () => {
      await bounded.close();
      await timed.close();
      await te.cleanup();
    });
    // Beyond the bound: 8 connections that never finish their headers (the timeout is 10 s), 3 closed.
    const boundedPort = await bounded.start();
    const socks = Array.from({ length: 8 }, () => openSlow(boundedPort, Date.now() + 10_000));
    try {
      await waitFor('the extra connections closed', () => socks.filter((s) => s.closedAt).length >= 3, 5000);
      assert.equal(socks.filter((s) => s.closedAt).length, 3, 'only those beyond the bound');
    } finally {
      for (const s of socks) s.socket.destroy();
    }
    const port = await timed.start();
    const started = Date.now();
    const s = openSlow(port, started + 10_000);
    try {
      await waitFor('the slow connection cut', () => s.closedAt, 8000);
      t.diagnostic(`${name} cut it after ${(s.closedAt ?? 0) - started} ms`);
    } finally {
      s.socket.destroy();
    }
  });
}

test('a trickled body is cut at the request timeout; a keep-alive connection serves a bounded number of requests', async (t) => {
  const f = await startIngest(t, {
    INGEST_PORT: '0',
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '1500',
    HTTP_MAX_REQUESTS_PER_SOCKET: '2',
  });
  const port = await f.svc.start();
  // Headers in time, then the body one byte a second: Node answers 408 and closes.
  const slowBody = connect(port, '127.0.0.1');
  let answer = '';
  slowBody.on('data', (d: Buffer) => {
    answer += d.toString();
  });
  slowBody.on('error', () => undefined);
  const closed = new Promise<number>((r) => slowBody.on('close', () => r(Date.now())));
  const opened = Date.now();
  slowBody.write(
    'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
  );
  const drip = setInterval(() => slowBody.write(' '), 1000);
  try {
    const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
    assert.ok(at > 0, 'the slow body was cut');
    assert.match(answer, /^HTTP\/1\.1 408/);
    t.diagnostic(`slow body cut after ${at - opened} ms`);
  } finally {
    clearInterval(drip);
    slowBody.destroy();
  }
  // Requests one after the other on one keep-alive connection: the second answer says close.
  const ka = connect(port, '127.0.0.1');
  let text = '';
  ka.on('data', (d: Buffer) => {
    text += d.toString();
  });
  ka.on('error', () => undefined);
  const answers = () => (text.match(/HTTP\/1\.1 \d+/g) ?? []).length;
  const get = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  try {
    for (let i = 1; i <= 2; i++) {
      ka.write(get);
      await waitFor(`answer ${i}`, () => answers() >= i, 5000);
    }
  } finally {
    ka.destroy();
  }
  const [first, second] = text.split(/(?=HTTP\/1\.1 )/);
  assert.match(first ?? '', /^HTTP\/1\.1 200/);
  assert.match(first ?? '', /connection: keep-alive/i);
  assert.match(second ?? '', /^HTTP\/1\.1 200/);
  assert.match(second ?? '', /connection: close/i, 'the second answer closes the connection');
});
