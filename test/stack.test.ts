// `warren up` end to end, as a user runs it (a child process on free ports, its own queue and
// store), and everything checked through Traefik only: the routers, the panel at /panel and
// /panel/, /send and /events spread over both ingest instances and counted in /reporte, an
// ingest instance SIGKILLed while requests keep succeeding and `warren up` restarts it, the
// dashboard's basic auth, reads behind READ_USER/READ_PASSWORD, the alert deliverer running (an
// alert published to the test's alert exchange reaches a local webhook), and SIGTERM stopping
// every process.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Reporte } from '../src/analytics/index.js';
import { pidAlive } from '../src/stack/process.js';
import { basicAuthHeader } from '../src/stack/traefik.js';
import { message, publishAlerts, Receiver } from './support/alert-delivery.js';
import {
  AMQP_URL,
  freePort,
  getJson,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';

interface Status {
  pid: number;
  ports: { proxy: number; api: number; analytics: number; panel: number; ingest: number[] };
  children: { name: string; pid?: number; ready: boolean; restarts: number }[];
}

/** Waits for cond, failing at once (with its output) if `warren up` exits meanwhile. */
async function whileUp<T>(
  up: WarrenProcess,
  what: string,
  fn: () => Promise<T> | T,
  ms = 60_000,
): Promise<T> {
  const exited = up.exited.then((code) => {
    throw new Error(`warren up exited (${code}) while waiting for ${what}:\n${up.output().slice(-4000)}`);
  });
  return Promise.race([waitFor(what, fn, ms, 200), exited]);
}

async function accepted(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^warren_ingest_events_accepted_total (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

async function post(proxy: string, path: string, body: unknown, cliente?: string): Promise<number> {
  const res = await fetch(`${proxy}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cliente ? { 'x-client-name': cliente } : {}) },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

test('warren up serves everything through Traefik, survives an ingest crash and stops cleanly', async () => {
  const env = testEnv('up');
  const stackDir = join(env.dir, 'stack');
  const statusFile = join(stackDir, 'status.json');
  const auth = basicAuthHeader('admin', 'e2e-pass');
  const read = { authorization: basicAuthHeader('lector', 'e2e-read') };
  const up = warren(['up', '--clients', '1', '--client-rate', '5'], {
    ...env.env,
    PROXY_PORT: String(await freePort()),
    TRAEFIK_API_PORT: String(await freePort()),
    ANALYTICS_PORT: String(await freePort()),
    PANEL_PORT: String(await freePort()),
    INGEST_PORT: '0',
    STACK_DIR: stackDir,
    TRAEFIK_DASHBOARD_USER: 'admin',
    TRAEFIK_DASHBOARD_PASSWORD: 'e2e-pass',
    READ_USER: 'lector',
    READ_PASSWORD: 'e2e-read',
    READY_TIMEOUT_S: '90',
  });
  const pids = new Set<number>();
  const status = (): Status => {
    const s = JSON.parse(readFileSync(statusFile, 'utf8')) as Status;
    for (const c of s.children) if (c.pid) pids.add(c.pid);
    return s;
  };
  try {
    await whileUp(up, 'the URL table', () => up.stdout().includes('Warren is up'), 120_000);
    const { ports } = status();
    const proxy = `http://127.0.0.1:${ports.proxy}`;
    const api = `http://127.0.0.1:${ports.api}`;
    assert.equal(ports.ingest.length, 2);
    assert.match(up.stdout(), new RegExp(`http://127\\.0\\.0\\.1:${ports.proxy}/panel`));

    // The Traefik API, behind basic auth.
    assert.equal((await fetch(`${api}/api/http/routers`)).status, 401);
    assert.equal((await fetch(`${api}/dashboard/`)).status, 401);
    const routers = await getJson<{ name: string }[]>(`${api}/api/http/routers`, {
      headers: { authorization: auth },
    });
    assert.equal(routers.status, 200);
    const names = routers.body.map((r) => r.name);
    for (const r of ['panel@file', 'analytics@file', 'ingest@file', 'dashboard@file'])
      assert.ok(names.includes(r), r);

    // Reads need READ_USER/READ_PASSWORD (Traefik's read-auth, answered by ingest).
    for (const path of ['/panel/', '/reporte', '/api/v1/report', '/api/v1/stream']) {
      const res = await fetch(`${proxy}${path}`);
      assert.equal(res.status, 401, path);
      await res.arrayBuffer();
    }
    // The panel at /panel and /panel/, with its assets under the prefix.
    for (const path of ['/panel', '/panel/']) {
      const res = await fetch(`${proxy}${path}`, { headers: read });
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await res.text(), /<base href="\/panel\/">/);
    }
    assert.equal((await fetch(`${proxy}/panel/app.js`, { headers: read })).status, 200);

    // The seed's call and the events API, spread over both ingest instances.
    for (let i = 0; i < 10; i++) {
      assert.equal(await post(proxy, '/send', { message: 'mensaje de prueba' }, 'e2e_send'), 202);
      assert.equal(await post(proxy, '/events', { cliente: 'e2e_events', evento: 'click' }), 202);
    }
    const counts = await Promise.all(ports.ingest.map(accepted));
    assert.ok(
      counts.every((n) => n > 0),
      `both instances took events: ${counts}`,
    );
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      20,
    );
    const report = async () => (await getJson<Reporte>(`${proxy}/reporte`, { headers: read })).body;
    await whileUp(up, 'the 20 events in /reporte', async () => {
      const r = await report();
      return r.clientes.e2e_send === 10 && r.clientes.e2e_events === 10 && (r.clientes.cliente_uno ?? 0) > 0;
    });

    // SIGKILL ingest-1: requests keep succeeding through ingest-2 while warren up restarts it.
    const before = status().children.find((c) => c.name === 'ingest-1')!;
    process.kill(before.pid!, 'SIGKILL');
    // A request already inside the dying process may get a 502 (Traefik never resends a POST
    // that reached an instance); every request sent once it is gone must succeed.
    await whileUp(up, 'ingest-1 to be gone', () => !pidAlive(before.pid!));
    let sent = 0;
    for (; sent < 20; sent++) {
      assert.equal(await post(proxy, '/events', { cliente: 'e2e_failover', evento: 'click' }), 202);
    }
    const restarted = await whileUp(up, 'ingest-1 restarted and ready', () => {
      const c = status().children.find((x) => x.name === 'ingest-1');
      return c?.pid && c.pid !== before.pid && c.ready && c.restarts === 1 ? c : undefined;
    });
    assert.match(up.output(), /ingest-1 exited \(signal SIGKILL\); restarting it in \d+ ms/);
    // Traefik's health check takes the new ingest-1 back into the pool.
    await whileUp(up, 'the restarted ingest-1 to take requests again', async () => {
      assert.equal(await post(proxy, '/events', { cliente: 'e2e_failover', evento: 'click' }), 202);
      sent++;
      return (await accepted(ports.ingest[0]!)) > 0;
    });
    assert.ok(restarted?.pid && pidAlive(restarted.pid), 'the restarted ingest-1 is running');
    await whileUp(up, `the ${sent} failover events in /reporte`, async () => {
      return (await report()).clientes.e2e_failover === sent;
    });

    // The alert deliverer is one of the parts: an alert on the exchange reaches its webhook.
    assert.ok(status().children.find((c) => c.name === 'alerts')?.pid, 'warren up runs the deliverer');
    const hook = await Receiver.create();
    await hook.listen();
    try {
      const alert = message('up', `${hook.url}/hook`);
      const exchange = `${env.id}.alertas`; // testEnv names it so
      await publishAlerts({ url: AMQP_URL, exchange, env: env.env }, [alert]);
      await whileUp(up, 'the alert delivered by warren up', () => hook.byId(alert.alert.id).length === 1);
      assert.equal(hook.byId(alert.alert.id)[0]?.body, alert.body);
    } finally {
      await hook.close();
    }

    // SIGTERM: every part stops, warren up exits 0, no process is left.
    const final = status();
    assert.equal(final.children.filter((c) => c.pid).length, 7);
    assert.equal(await up.kill('SIGTERM'), 0);
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} is gone`);
    assert.match(up.output(), /every part stopped/);
  } finally {
    if (up.child.exitCode === null) await up.kill('SIGKILL');
    if (existsSync(statusFile)) status();
    for (const pid of pids) if (pidAlive(pid)) process.kill(-pid, 'SIGKILL');
    await env.cleanup();
  }
});
