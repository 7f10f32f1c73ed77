// The receiver README "Alerts" > "Delivery" shows, run as written: it accepts what the deliverer
// sends (json and slack bodies), refuses a body signed with another secret (which the deliverer
// then dead-letters at once: a 401 is permanent), and acts once on an alert delivered twice.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildMessage } from '../src/alert.js';
import { build } from '../src/alerts/deliverer.js';
import { createLogger } from '../src/log.js';
import {
  alertEnv,
  drainDlq,
  makeAlert,
  publishAlerts,
  queueState,
  testConfig,
} from './support/alert-delivery.js';
import { freePort, ROOT, waitFor } from './support/helpers.js';

function readmeReceiver(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Delivery'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m?.[1], 'README "### Delivery" has a js block');
  return m[1];
}

test("README's receiver checks the signature and acts once per alert id", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-receiver-'));
  const file = join(dir, 'receiver.mjs');
  writeFileSync(file, readmeReceiver());
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [file], {
    env: { ...process.env, WEBHOOK_SECRET: 'the-rule-secret', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const a = alertEnv('alreadme');
  const d = build(testConfig(a), createLogger('silent'));
  t.after(async () => {
    child.kill();
    await d.close();
    await a.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}/warren`;
  await waitFor('the receiver listening', async () => (await fetch(url, { method: 'POST' })).status === 401);
  await d.start();
  const json = buildMessage(makeAlert('readme-json'), url, 'json', 'the-rule-secret');
  const slack = buildMessage(makeAlert('readme-slack', 'resolved'), url, 'slack', 'the-rule-secret');
  const forged = buildMessage(makeAlert('readme-forged'), url, 'json', 'another-secret');
  await publishAlerts(a, [json, slack, forged]);
  await waitFor(
    'the forged one dead-lettered',
    async () => (await queueState(a.url, a.dlq)).messages === 1,
    20_000,
  );
  await waitFor(
    'both real ones acted on',
    () => out.includes(json.alert.id) && out.includes(slack.alert.id),
    20_000,
  );
  await waitFor('the queue empty', async () => (await queueState(a.url, a.queue)).messages === 0);
  // The same alert delivered again (a deliverer killed before its ack): 2xx, and not acted on twice.
  const again = await fetch(url, {
    method: 'POST',
    headers: { 'x-warren-signature': json.signature, 'x-warren-alert-id': json.alert.id },
    body: json.body,
  });
  assert.equal(again.status, 204);
  const lines = out.trim().split('\n');
  assert.deepEqual(lines.sort(), [
    `alert ${json.alert.id}: fired ${json.alert.summary}`,
    `alert ${slack.alert.id}: resolved ${slack.alert.summary}`,
  ]);
  const [dead] = await drainDlq(a);
  assert.match(String(dead?.headers['x-warren-reason']), /^HTTP 401, not retried/);
  assert.doesNotMatch(out, /readme-forged/);
});
