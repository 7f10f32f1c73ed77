// Requests Node's HTTP parser refuses before any route sees them (a broken chunked body, both
// Content-Length and Transfer-Encoding, headers over the size limit, a body not sent in time) get
// the contract's error shape from ingest and analytics alike: {"error": <code>, "message", "details"},
// never a framework's own body; the panel's server too. Raw sockets against real services on loopback.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { build as buildAnalytics } from '../src/analytics/service.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { build as buildPanel } from '../src/panel/server.js';
import { freePort, testEnv } from './support/helpers.js';
import { LOG_LEVEL, startIngest } from './support/ingest-fixture.js';

interface Answer {
  status: number;
  headers: string;
  body: unknown;
}

/** Sends raw bytes (then, when `drip`, one more byte a second) and reads the answer until the server closes. */
function raw(
  port: number,
  request: string,
  opts: { drip?: boolean; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let drip: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${opts.timeoutMs ?? 5000} ms; got ${JSON.stringify(text)}`));
    }, opts.timeoutMs ?? 5000);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      clearInterval(drip);
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (!m) return reject(new Error(`not an HTTP answer: ${JSON.stringify(text)}`));
      let body: unknown;
      try {
        body = JSON.parse(m[3]!);
      } catch {
        body = m[3];
      }
      resolve({ status: Number(m[1]), headers: m[2]!, body });
    });
    s.once('connect', () => {
      s.write(request);
      if (opts.drip) drip = setInterval(() => s.write(' '), 1000);
    });
  });
}

const CODES = new Set(['bad_request', 'too_large', 'request_timeout']);

function assertContractError(a: Answer, status: number, code: string): void {
  assert.equal(a.status, status, `status of ${JSON.stringify(a)}`);
  assert.match(a.headers, /content-type: application\/json/i);
  const body = a.body as { error?: unknown; message?: unknown; details?: unknown };
  assert.equal(typeof body, 'object', `a JSON body: ${JSON.stringify(a.body)}`);
  assert.deepEqual(Object.keys(body).sort(), ['details', 'error', 'message']);
  assert.equal(body.error, code);
  assert.ok(CODES.has(code));
  assert.equal(typeof body.message, 'string');
  assert.ok((body.message as string).length > 10, 'a sentence for a person');
  assert.deepEqual(body.details, []);
}

const BROKEN_CHUNKED =
  'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n';
const SMUGGLED =
  'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n';
const HUGE_HEADERS = `POST /events HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`;

test('ingest answers requests its HTTP parser refuses with the contract error shape', async (t) => {
  const f = await startIngest(t, {
    INGEST_PORT: '0',
    HTTP_REQUEST_TIMEOUT_MS: '1500',
    HTTP_HEADERS_TIMEOUT_MS: '1000',
  });
  const port = await f.svc.start();
  assertContractError(await raw(port, BROKEN_CHUNKED), 400, 'bad_request');
  assertContractError(await raw(port, SMUGGLED), 400, 'bad_request');
  assertContractError(await raw(port, HUGE_HEADERS), 431, 'too_large');
  const slow = await raw(
    port,
    'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    { drip: true, timeoutMs: 8000 },
  );
  assertContractError(slow, 408, 'request_timeout');
  // The service still answers normally afterwards.
  const ok = await f.post('/events', { cliente: 'c1', evento: 'e' });
  assert.equal(ok.statusCode, 202);
});

test('analytics answers requests its HTTP parser refuses with the contract error shape', async (t) => {
  const te = testEnv('client_errors');
  const config = loadConfig({ ...te.env, LOG_LEVEL, ANALYTICS_PORT: '0' });
  const svc = buildAnalytics(config, createLogger(LOG_LEVEL, 'analytics'));
  t.after(async () => {
    await svc.close();
    await te.cleanup();
  });
  const port = await svc.start();
  assertContractError(
    await raw(port, 'GET /reporte HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n\r\n'),
    400,
    'bad_request',
  );
  assertContractError(
    await raw(port, `GET /reporte HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`),
    431,
    'too_large',
  );
});

test('the panel answers requests its HTTP parser refuses with the contract error shape', async (t) => {
  const te = testEnv('client_errors_panel');
  const panel = buildPanel(
    loadConfig({
      ...te.env,
      LOG_LEVEL,
      PANEL_PORT: '0',
      ANALYTICS_URL: `http://127.0.0.1:${await freePort()}`,
    }),
    createLogger(LOG_LEVEL, 'panel'),
  );
  t.after(async () => {
    await panel.close();
    await te.cleanup();
  });
  const port = await panel.start();
  assertContractError(
    await raw(
      port,
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ),
    400,
    'bad_request',
  );
});
