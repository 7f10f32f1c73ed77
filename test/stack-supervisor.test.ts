// The Supervisor behind `warren up`, with small node scripts as children: start-up failures name
// the child and what it printed, a dead child is restarted, output is prefixed, and stop() ends
// everything in reverse order (SIGKILL for a child that ignores SIGTERM).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../src/log.js';
import { pidAlive } from '../src/stack/process.js';
import { type ChildSpec, type ChildStatus, Supervisor } from '../src/stack/supervisor.js';
import { waitFor } from './helpers.js';

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
    await new Promise((r) => setTimeout(r, 200)); // let it install its SIGTERM handler
    await sup2.stop();
    assert.ok(!pidAlive(pid), 'SIGKILLed after the grace time');
  } finally {
    await sup.stop();
    await sup2.stop();
  }
});
