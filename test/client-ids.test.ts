// `warren client --ids-out FILE` and `--events a,b` (CONTRACT.md, Command line): the id of every confirmed event, one
// a line, so a test can check a run by id; a file it cannot write stops it at start (exit 2).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { AMQP_URL, freePort, type TestEnv, testEnv, warren } from './support/helpers.js';
import { readIds } from './support/ids.js';
import { startIngest } from './support/sdk-stack.js';

describe('warren client --ids-out', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('cids');
  });
  after(async () => {
    await env.cleanup();
  });

  it('writes each confirmed id once, as many as "N confirmed" says', async () => {
    const file = join(env.dir, 'ids.txt');
    const c = warren(
      ['client', '--name', 'cids_uno', '--rate', '0', '--count', '700', '--ids-out', file],
      env.env,
    );
    assert.equal(await c.exited, 0, c.output());
    assert.equal(c.stdout().trim().split('\n').at(-1), '700 confirmed');
    const ids = readIds(file);
    assert.equal(ids.length, 700);
    assert.equal(new Set(ids).size, 700);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('writes the ids the gateway answered 202 for, through --http', async () => {
    const port = await freePort();
    const ingest = await startIngest(env, port);
    try {
      const file = join(env.dir, 'http-ids.txt');
      const d = warren(
        [
          'client',
          '--name',
          'cids_http',
          '--rate',
          '0',
          '--count',
          '300',
          '--http',
          `http://127.0.0.1:${port}`,
          '--ids-out',
          file,
        ],
        env.env,
      );
      assert.equal(await d.exited, 0, d.output());
      assert.equal(d.stdout().trim().split('\n').at(-1), '300 confirmed');
      const ids = readIds(file);
      assert.equal(new Set(ids).size, 300);
    } finally {
      await ingest.kill();
    }
  });

  it('exits 2 naming the option when the file cannot be written', async () => {
    const c = warren(
      ['client', '--name', 'cids_uno', '--count', '1', '--ids-out', join(env.dir, 'missing', 'ids.txt')],
      env.env,
    );
    assert.equal(await c.exited, 2, c.output());
    assert.match(c.output(), /--ids-out: cannot write/);
  });
});

// README, "Commands": `warren client ... [--events a,b]` picks event names from that list.
describe('warren client --events', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('cevents');
  });
  after(async () => {
    await env.cleanup();
  });

  it('publishes only the listed event names, each of them', async () => {
    const c = warren(
      ['client', '--name', 'cev_uno', '--rate', '0', '--count', '60', '--events', 'signup,checkout'],
      env.env,
    );
    assert.equal(await c.exited, 0, c.output());
    const conn = await amqp.connect(AMQP_URL);
    const names = new Map<string, number>();
    try {
      const ch = await conn.createChannel();
      for (
        let msg = await ch.get(env.queue, { noAck: true });
        msg;
        msg = await ch.get(env.queue, { noAck: true })
      ) {
        const e = JSON.parse(msg.content.toString()) as { evento: string; cliente: string };
        assert.equal(e.cliente, 'cev_uno');
        names.set(e.evento, (names.get(e.evento) ?? 0) + 1);
      }
    } finally {
      await conn.close();
    }
    assert.deepEqual([...names.keys()].sort(), ['checkout', 'signup'], JSON.stringify([...names]));
    assert.equal((names.get('checkout') ?? 0) + (names.get('signup') ?? 0), 60);
  });

  it('exits 2 naming a bad event name', async () => {
    const c = warren(['client', '--name', 'cev_uno', '--count', '1', '--events', 'ok,bad name'], env.env);
    assert.equal(await c.exited, 2, c.output());
    assert.match(c.output(), /--events: "bad name" is not/);
  });
});
