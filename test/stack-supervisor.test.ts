// The Supervisor behind `warren up`, with small node scripts as children: start-up failures name
// the child and what it printed, a dead child is restarted, output is prefixed, and stop() ends
// everything in reverse order (SIGKILL for a child that ignores SIGTERM). Children never outlive
// `warren up`: killed outright, its parts notice and stop cleanly, and no accepted event is lost.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../src/log.js';
import { pidAlive } from '../src/stack/process.js';
import { type ChildSpec, type ChildStatus, Supervisor } from '../src/stack/supervisor.js';
import { freePort, getJson, sleep, testEnv, type WarrenProcess, waitFor, warren } from './support/helpers.js';

const log = createLogger('silent', 'test');

function script(name: string, code: string, extra: Partial<ChildSpec> = {}): ChildSpec {
  return { name, command: process.execPath, args: ['-e', code], ...extra };
}

const forever = 'setInterval(() => {}, 1000);';

test('a child that exits before it is ready fails the start with its name, code and last lines', async () => {
  const lines: string[] = [];
  const sup = new Supervisor({ log, out: (l) => lines.push(l) });
  try {
    await assert.rejects(
      sup.startTier(
        [script('broken', 'console.error("port 1 (X_PORT) is already in use"); process.exit(2);')],
        5000,
      ),
      /broken exited \(2\) before it was ready; its last lines:\nport 1 \(X_PORT\) is already in use/,
    );
    assert.ok(lines.includes('broken   | port 1 (X_PORT) is already in use'), lines.join('\n'));
  } finally {
    await sup.stop();
  }
});

test('a child that never gets ready fails the start at the deadline, naming what was checked', async () => {
  const sup = new Supervisor({ log, out: () => undefined });
  try {
    await assert.rejects(
      sup.startTier(
        [script('slow', forever, { ready: async () => false, readyWhat: 'http://127.0.0.1:1/readyz' })],
        600,
      ),
      /slow did not become ready within 1 s \(checked http:\/\/127\.0\.0\.1:1\/readyz\)/,
    );
  } finally {
    await sup.stop();
  }
  assert.deepEqual(
    sup.status().map((c) => c.pid),
    [undefined],
  );
});

test('a child that dies is restarted; stop() ends every child, last tier first', async () => {
  const changes: ChildStatus[][] = [];
  const sup = new Supervisor({ log, out: () => undefined, onChange: (s) => changes.push(s) });
  // "stubborn" ignores SIGTERM: stop() must SIGKILL it after the grace time.
  const stubborn = script('stubborn', `process.on('SIGTERM', () => {}); ${forever}`);
  const sup2 = new Supervisor({ log, out: () => undefined, graceMs: 300 });
  try {
    await sup.startTier([script('first', forever)], 5000);
    await sup.startTier([script('second', forever)], 5000);
    const before = sup.pid('second')!;
    process.kill(before, 'SIGKILL');
    const after = await waitFor('second restarted', () => {
      const pid = sup.pid('second');
      return pid !== undefined && pid !== before ? pid : undefined;
    });
    assert.equal(sup.status().find((c) => c.name === 'second')?.restarts, 1);
    const first = sup.pid('first')!;
    await sup.stop();
    assert.ok(!pidAlive(first) && !pidAlive(after));
    assert.deepEqual(
      sup.status().map((c) => c.pid),
      [undefined, undefined],
    );
    // The last change seen: second went before first (reverse order).
    const order = changes.flatMap((s, i) => {
      const prev = changes[i - 1];
      return s
        .filter((c) => c.pid === undefined && prev?.find((p) => p.name === c.name)?.pid)
        .map((c) => c.name);
    });
    assert.deepEqual(order.slice(-2), ['second', 'first']);

    await sup2.startTier([stubborn], 5000);
    const pid = sup2.pid('stubborn')!;
    await sleep(200); // let it install its SIGTERM handler
    await sup2.stop();
    assert.ok(!pidAlive(pid), 'SIGKILLed after the grace time');
  } finally {
    await sup.stop();
    await sup2.stop();
  }
});

/** Whether any process is left in the group led by pgid (every child leads its own group). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function postEvent(proxy: string, cliente: string): Promise<number> {
  try {
    const res = await fetch(`${proxy}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cliente, evento: 'click' }),
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

test('kill -9 of warren up leaves no Warren process within 10 s, and no accepted event is lost', async (t) => {
  const env = testEnv('kill9');
  const stackDir = join(env.dir, 'stack');
  const statusFile = join(stackDir, 'status.json');
  const up = warren(['up', '--clients', '0', '--ingest', '1'], {
    ...env.env,
    PROXY_PORT: String(await freePort()),
    TRAEFIK_API_PORT: String(await freePort()),
    ANALYTICS_PORT: String(await freePort()),
    PANEL_PORT: String(await freePort()),
    INGEST_PORT: '0',
    STACK_DIR: stackDir,
    READY_TIMEOUT_S: '90',
  });
  let groups: number[] = [];
  let analytics: WarrenProcess | undefined;
  try {
    await waitFor(
      'warren up to print its URL table',
      () => up.stdout().includes('Warren is up'),
      120_000,
      200,
    );
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as {
      ports: { proxy: number };
      children: { name: string; pid?: number }[];
    };
    groups = status.children.flatMap((c) => (c.pid ? [c.pid] : []));
    assert.equal(groups.length, 5, 'analytics, ingest-1, panel, alerts and traefik run');
    const proxy = `http://127.0.0.1:${status.ports.proxy}`;

    // Events one at a time through Traefik; warren up is killed outright half-way.
    let accepted = 0;
    let attempted = 0;
    const sending = (async () => {
      for (;;) {
        attempted++;
        if ((await postEvent(proxy, 'kill9')) !== 202) return;
        accepted++;
      }
    })();
    await waitFor('30 events accepted', () => accepted >= 30, 60_000, 20);
    process.kill(up.child.pid!, 'SIGKILL');
    await up.exited;
    const killedAt = Date.now();
    await waitFor(
      'every child of the killed warren up (and what they started) to exit',
      () => groups.every((g) => !groupAlive(g)),
      10_000,
      50,
    );
    const stoppedIn = Date.now() - killedAt;
    await sending;
    assert.ok(stoppedIn <= 10_000, `stopped in ${stoppedIn} ms`);
    t.diagnostic(`every part gone ${stoppedIn} ms after the kill`);

    // Analytics alone on the same queue and store: every accepted event is counted, once. The
    // request that was in flight at the kill may have been published without its 202.
    const port = await freePort();
    analytics = warren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) });
    const counted = await waitFor(
      `the ${accepted} accepted events in /reporte`,
      async () => {
        const r = await getJson<{ clientes: Record<string, number> }>(`http://127.0.0.1:${port}/reporte`);
        const n = r.body.clientes.kill9 ?? 0;
        return n >= accepted ? n : undefined;
      },
      60_000,
      200,
    );
    assert.ok(counted <= attempted, `counted ${counted}, accepted ${accepted}, attempted ${attempted}`);
    assert.ok(counted - accepted <= 1, `counted ${counted}, accepted ${accepted}`);
  } finally {
    if (up.child.exitCode === null && up.child.signalCode === null) await up.kill('SIGKILL');
    for (const g of groups) if (groupAlive(g)) process.kill(-g, 'SIGKILL');
    await analytics?.kill('SIGTERM');
    await env.cleanup();
  }
});

test('SIGHUP stops a service as SIGTERM does (exit 0, after closing)', async () => {
  const port = await freePort();
  const panel = warren(['panel'], {
    HOST: '127.0.0.1',
    PANEL_PORT: String(port),
    ANALYTICS_URL: 'http://127.0.0.1:9',
  });
  try {
    await waitFor(
      'the panel to listen',
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
      30_000,
    );
    assert.equal(await panel.kill('SIGHUP'), 0, panel.output());
  } finally {
    await panel.kill('SIGKILL');
  }
});
