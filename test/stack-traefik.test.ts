// Traefik as Warren configures it (src/stack/traefik*.ts), run for real in front of small HTTP
// servers that echo what reached them: the routers, strip-panel, the ingest load balancing and
// its failover, and the dashboard's basic auth. Also the port check of `warren up`.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { addKey } from '../src/ingest/keys.js';
import { build as buildIngest } from '../src/ingest/service.js';
import { createLogger } from '../src/log.js';
import { planPorts } from '../src/stack/ports.js';
import { basicAuthHeader, type RunningTraefik, startTraefik } from '../src/stack/traefik.js';
import { freePort, getJson, testEnv, waitFor, warren } from './support/helpers.js';

interface Seen {
  backend: string;
  method: string;
  url: string;
  prefix: string | null;
  body: string;
}

/** An HTTP server that answers every request with what it saw, as JSON. */
async function echo(backend: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const seen: Seen = {
        backend,
        method: req.method ?? '',
        url: req.url ?? '',
        prefix: (req.headers['x-forwarded-prefix'] as string | undefined) ?? null,
        body,
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

const log = createLogger('error', 'test');
const quiet = () => undefined;

describe('Traefik with the file-provider config', () => {
  const env = testEnv('traefik');
  const servers: Server[] = [];
  let traefik: RunningTraefik;
  let ingest1: Server;

  before(async () => {
    const [panel, analytics, i1, i2] = await Promise.all([
      echo('panel'),
      echo('analytics'),
      echo('ingest-1'),
      echo('ingest-2'),
    ]);
    servers.push(panel.server, analytics.server, i1.server, i2.server);
    ingest1 = i1.server;
    traefik = await startTraefik({
      dir: join(env.dir, 'traefik'),
      host: '127.0.0.1',
      proxyPort: await freePort(),
      apiPort: await freePort(),
      panelUrl: panel.url,
      analyticsUrl: analytics.url,
      ingestUrls: [i1.url, i2.url],
      log,
      out: quiet,
    });
  });

  after(async () => {
    await traefik?.stop();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await env.cleanup();
  });

  test('the API lists the four routers; the dashboard is open without credentials', async () => {
    const { status, body } = await getJson<{ name: string; middlewares?: string[] }[]>(
      `${traefik.apiUrl}/api/http/routers`,
    );
    assert.equal(status, 200);
    // Traefik adds its own internal routers (ping@internal); ours come from the file provider.
    const names = body
      .map((r) => r.name)
      .filter((n) => n.endsWith('@file'))
      .sort();
    assert.deepEqual(names, ['analytics@file', 'dashboard@file', 'ingest@file', 'panel@file']);
    assert.deepEqual(body.find((r) => r.name === 'panel@file')?.middlewares, ['strip-panel@file']);
    assert.equal((await fetch(`${traefik.apiUrl}/dashboard/`)).status, 200);
  });

  test('/panel and /panel/ reach the panel at / with X-Forwarded-Prefix, assets under it', async () => {
    for (const path of ['/panel', '/panel/']) {
      const { body } = await getJson<Seen>(`${traefik.proxyUrl}${path}`);
      assert.deepEqual([body.backend, body.url, body.prefix], ['panel', '/', '/panel'], path);
    }
    const { body } = await getJson<Seen>(`${traefik.proxyUrl}/panel/app.js`);
    assert.deepEqual([body.backend, body.url], ['panel', '/app.js']);
  });

  test('/reporte and /api/… reach analytics unchanged; other paths are 404', async () => {
    for (const path of ['/reporte', '/api/v1/report?cliente=a']) {
      const { body } = await getJson<Seen>(`${traefik.proxyUrl}${path}`);
      assert.deepEqual([body.backend, body.url], ['analytics', path]);
    }
    assert.equal((await fetch(`${traefik.proxyUrl}/dashboard/`)).status, 404);
    assert.equal((await fetch(`${traefik.proxyUrl}/reporte/x`)).status, 404);
  });

  test('POST /send and /events are spread over both ingest instances, and fail over', async () => {
    const post = async (path: string) => {
      const res = await fetch(`${traefik.proxyUrl}${path}`, { method: 'POST', body: '{"message":"hola"}' });
      assert.equal(res.status, 200);
      const seen = (await res.json()) as Seen;
      assert.equal(seen.body, '{"message":"hola"}');
      return seen.backend;
    };
    const hits: string[] = [];
    for (let i = 0; i < 10; i++) hits.push(await post(i % 2 ? '/send' : '/events'));
    assert.deepEqual([...new Set(hits)].sort(), ['ingest-1', 'ingest-2']);

    // A dead instance refuses connections; Traefik sends those requests to the other one. A request
    // racing the close on a pooled keep-alive connection may still get a 502 (the client retries).
    ingest1.closeAllConnections();
    await new Promise((r) => ingest1.close(r));
    await waitFor('the other instance answering', async () => {
      const res = await fetch(`${traefik.proxyUrl}/events`, { method: 'POST', body: '{"message":"hola"}' });
      return res.status === 200 && ((await res.json()) as Seen).backend === 'ingest-2';
    });
    const after: string[] = [];
    for (let i = 0; i < 10; i++) after.push(await post('/events'));
    assert.deepEqual([...new Set(after)], ['ingest-2']);
  });
});

test('with dashboard credentials the API and dashboard answer 401 without them', async () => {
  const env = testEnv('traefik_auth');
  const backend = await echo('any');
  const traefik = await startTraefik({
    dir: join(env.dir, 'traefik'),
    host: '127.0.0.1',
    proxyPort: await freePort(),
    apiPort: await freePort(),
    panelUrl: backend.url,
    analyticsUrl: backend.url,
    ingestUrls: [backend.url],
    dashboard: { user: 'admin', password: 's3cret pass' },
    log,
    out: quiet,
  });
  try {
    for (const path of ['/api/http/routers', '/dashboard/']) {
      const url = `${traefik.apiUrl}${path}`;
      const none = await fetch(url);
      assert.equal(none.status, 401, path);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Basic/);
      const wrong = await fetch(url, { headers: { authorization: basicAuthHeader('admin', 'nope') } });
      assert.equal(wrong.status, 401, path);
      const right = await fetch(url, { headers: { authorization: basicAuthHeader('admin', 's3cret pass') } });
      assert.equal(right.status, 200, path);
    }
    // The web entrypoint is not behind the dashboard's auth.
    assert.equal((await fetch(`${traefik.proxyUrl}/reporte`)).status, 200);
  } finally {
    await traefik.stop();
    backend.server.close();
    await env.cleanup();
  }
});

test('a taken port is reported by the variable that sets it', async () => {
  const holder = createTcpServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const addr = holder.address();
  const taken = typeof addr === 'object' && addr ? addr.port : 0;
  try {
    await assert.rejects(
      planPorts('127.0.0.1', [
        { who: 'analytics', variable: 'ANALYTICS_PORT', port: 0 },
        { who: 'ingest-2', variable: 'INGEST_PORT+1', port: taken },
      ]),
      new RegExp(`port ${taken} \\(INGEST_PORT\\+1, for ingest-2\\) is already in use; .* set INGEST_PORT$`),
    );
    await assert.rejects(
      planPorts('127.0.0.1', [
        { who: 'analytics', variable: 'ANALYTICS_PORT', port: 5999 },
        { who: 'panel', variable: 'PANEL_PORT', port: 5999 },
      ]),
      /asked for twice: ANALYTICS_PORT \(analytics\) and PANEL_PORT \(panel\)/,
    );

    // `warren up` stops before starting anything, with one line and exit code 2.
    const env = testEnv('up_port');
    try {
      const up = warren(['up'], { ...env.env, PROXY_PORT: String(taken), STACK_DIR: join(env.dir, 'stack') });
      assert.equal(await up.exited, 2);
      await waitFor('the message', () => up.output().includes(`port ${taken} (PROXY_PORT`));
      assert.doesNotMatch(up.output(), /started \(pid/);
      assert.doesNotMatch(up.output(), /\n\s+at /, 'no stack trace');
    } finally {
      await env.cleanup();
    }
  } finally {
    holder.close();
  }
});

test('with READ_USER/READ_PASSWORD, reads need the password or a read key; a send key never reads, a read key never sends', async (t) => {
  const te = testEnv('traefik_read');
  const sendKey = addKey(te.env.API_KEYS_FILE!, 'cliente_uno');
  const readKey = addKey(te.env.API_KEYS_FILE!, 'informes', 'read');
  const config = loadConfig({
    ...te.env,
    LOG_LEVEL: 'error',
    INGEST_PORT: '0',
    INGEST_AUTH: 'keys',
    READ_USER: 'lector',
    READ_PASSWORD: 'clave secreta',
  });
  const ingest = buildIngest(config, createLogger('error', 'ingest'));
  const [panel, analytics] = await Promise.all([echo('panel'), echo('analytics')]);
  const ingestUrl = `http://127.0.0.1:${await ingest.start()}`;
  const traefik = await startTraefik({
    dir: join(te.dir, 'traefik'),
    host: '127.0.0.1',
    proxyPort: await freePort(),
    apiPort: await freePort(),
    panelUrl: panel.url,
    analyticsUrl: analytics.url,
    ingestUrls: [ingestUrl],
    readAuthUrl: `${ingestUrl}/auth/read`,
    log,
    out: quiet,
  });
  t.after(async () => {
    await traefik.stop();
    await ingest.close();
    for (const s of [panel.server, analytics.server]) {
      s.closeAllConnections();
      s.close();
    }
    await te.cleanup();
  });
  const good = basicAuthHeader('lector', 'clave secreta');
  const reads: [string, string][] = [
    ['/reporte', 'analytics'],
    ['/api/v1/report?cliente=a', 'analytics'],
    ['/api/v1/stream', 'analytics'],
    ['/panel/', 'panel'],
    ['/panel/api/report', 'panel'],
  ];
  for (const [path, backend] of reads) {
    const url = `${traefik.proxyUrl}${path}`;
    const none = await fetch(url);
    assert.equal(none.status, 401, `${path} without credentials`);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="warren"/, path);
    assert.equal(((await none.json()) as { error: string }).error, 'unauthorized', path);
    for (const authorization of [
      basicAuthHeader('lector', 'wrong'),
      basicAuthHeader('otro', 'clave secreta'),
      'Bearer wrn_not-a-key',
    ]) {
      assert.equal(
        (await fetch(url, { headers: { authorization } })).status,
        401,
        `${path} ${authorization}`,
      );
    }
    const sendKeyRead = await fetch(url, { headers: { authorization: `Bearer ${sendKey}` } });
    assert.equal(sendKeyRead.status, 403, `${path}: a send key does not read`);
    for (const authorization of [good, `Bearer ${readKey}`]) {
      const res = await fetch(url, { headers: { authorization } });
      assert.equal(res.status, 200, `${path} ${authorization.slice(0, 6)}`);
      assert.equal(((await res.json()) as Seen).backend, backend, path);
    }
  }
  // The read key cannot send; the send key can (the ingest router has no read auth).
  const post = (authorization: string) =>
    fetch(`${traefik.proxyUrl}/events`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ evento: 'click' }),
    });
  const readSends = await post(`Bearer ${readKey}`);
  assert.equal(readSends.status, 403);
  assert.equal(((await readSends.json()) as { error: string }).error, 'forbidden');
  assert.equal((await post(good)).status, 401, 'the read password does not send either');
  await waitFor('ingest connected', () => ingest.publisher.ready, 20_000);
  assert.equal((await post(`Bearer ${sendKey}`)).status, 202);
});

interface ServiceInfo {
  name: string;
  loadBalancer?: { healthCheck?: { path?: string } };
  serverStatus?: Record<string, string>;
}

/** An ingest-like backend: /readyz follows `ready`; while unready it answers the contract's 503. */
async function ingestLike(backend: string) {
  const state = { ready: true };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/healthz') return res.end('{"status":"ok"}');
      if (req.url === '/readyz' || !state.ready) {
        if (!state.ready) res.statusCode = 503;
        if (!state.ready && req.url !== '/readyz') res.setHeader('retry-after', '1');
        return res.end(
          req.url === '/readyz'
            ? JSON.stringify({ status: state.ready ? 'ready' : 'unavailable' })
            : JSON.stringify({
                error: 'broker_unavailable',
                message: 'RabbitMQ is away',
                details: [],
                backend,
              }),
        );
      }
      res.statusCode = 202;
      res.end(JSON.stringify({ backend }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, state };
}

test('ingest is balanced over ready instances only; with none ready a live one answers JSON 503 + Retry-After', async (t) => {
  const env = testEnv('traefik_ready');
  const [a, b, other] = await Promise.all([ingestLike('ingest-1'), ingestLike('ingest-2'), echo('other')]);
  const traefik = await startTraefik({
    dir: join(env.dir, 'traefik'),
    host: '127.0.0.1',
    proxyPort: await freePort(),
    apiPort: await freePort(),
    panelUrl: other.url,
    analyticsUrl: other.url,
    ingestUrls: [a.url, b.url],
    log,
    out: quiet,
  });
  t.after(async () => {
    await traefik.stop();
    for (const s of [a.server, b.server, other.server]) {
      s.closeAllConnections();
      s.close();
    }
    await env.cleanup();
  });
  const post = async () => {
    const res = await fetch(`${traefik.proxyUrl}/events`, { method: 'POST', body: '{"evento":"click"}' });
    const text = await res.text();
    let backend: string | undefined; // Traefik's own 503 is plain text ("no available server")
    try {
      backend = (JSON.parse(text) as { backend?: string }).backend;
    } catch {
      backend = undefined;
    }
    return { status: res.status, text, res, backend };
  };
  const tenPosts = async () => Promise.all(Array.from({ length: 10 }, post));
  await waitFor('both instances in the pool', async () => {
    const seen = new Set((await tenPosts()).map((r) => `${r.status} ${r.backend}`));
    return seen.has('202 ingest-1') && seen.has('202 ingest-2');
  });

  a.state.ready = false; // ingest-1 lost the broker: it must leave the pool
  await waitFor('ingest-1 out of the pool', async () =>
    (await tenPosts()).every((r) => r.status === 202 && r.backend === 'ingest-2'),
  );
  for (const r of await tenPosts()) assert.deepEqual([r.status, r.backend], [202, 'ingest-2']);

  b.state.ready = false; // no instance is ready: a live one still answers, in the contract's shape
  await waitFor('Traefik to see every instance unready', async () => {
    const { body } = await getJson<ServiceInfo[]>(`${traefik.apiUrl}/api/http/services`);
    // The load balancer in use that checks /readyz (the one with server statuses).
    const ready = body.find((x) => x.loadBalancer?.healthCheck?.path === '/readyz' && x.serverStatus);
    const status = Object.values(ready?.serverStatus ?? {});
    if (status.length === 2 && status.every((v) => v === 'DOWN')) return true;
    throw new Error(JSON.stringify(body).slice(0, 1500));
  });
  for (const down of await tenPosts()) {
    assert.equal(down.status, 503, down.text);
    assert.match(down.res.headers.get('content-type') ?? '', /application\/json/, down.text);
    assert.equal(down.res.headers.get('retry-after'), '1');
    assert.equal((JSON.parse(down.text) as { error: string }).error, 'broker_unavailable');
  }

  a.state.ready = true;
  await waitFor('ingest-1 back in the pool', async () => {
    const r = await post();
    return r.status === 202 && r.backend === 'ingest-1';
  });
});
