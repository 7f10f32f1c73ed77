// The SDK's promises to its caller, against a real `warren ingest` and RabbitMQ: a full buffer is
// an error the caller sees, close() returns only after the last confirm, refusals (401, 403) are
// reported and not retried, 429 is retried after Retry-After, and a spool file carries pending
// events over a client restart.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BufferFullError,
  createClient,
  RejectedError,
  type RetryInfo,
  readSpool,
  SdkError,
  type WarrenClient,
} from '../src/sdk/index.js';
import {
  freePort,
  queueDepth,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';
import { startIngest } from './support/sdk-stack.js';

const fast = { baseMs: 50, maxMs: 500 };

describe('SDK policies', () => {
  let env: TestEnv;
  const children: WarrenProcess[] = [];
  before(() => {
    env = testEnv('sdkp');
  });
  after(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await env.cleanup();
  });

  it('refuses events when the buffer is full, and close() resolves only after the last confirm', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const client = createClient({
      transport: 'http',
      url,
      cliente: 'sdk_full',
      batchSize: 100,
      flushIntervalMs: 20,
      maxBufferEvents: 300,
      backoff: fast,
    });
    const retries: RetryInfo[] = [];
    client.on('retry', (r) => retries.push(r));
    for (let i = 0; i < 300; i++) client.track('click');
    assert.throws(
      () => client.track('click'),
      (err: unknown) =>
        err instanceof BufferFullError &&
        err.code === 'buffer_full' &&
        err.limit === 'events' &&
        /300\/300 events/.test(err.message) &&
        /waitForSpace/.test(err.message),
    );
    assert.equal(client.stats.pending, 300);
    let roomAgain = false;
    const space = client.waitForSpace().then(() => (roomAgain = true));
    // Nothing listens yet: the batches are retried, not dropped.
    await waitFor('connection retries', () => retries.length >= 3);
    assert.equal(roomAgain, false);
    assert.ok(
      retries.every((r) => !r.reason.startsWith('HTTP')),
      JSON.stringify(retries[0]),
    );

    children.push(await startIngest(env, port));
    await client.close();
    // No consumer runs: right after close() the queue holds every event, none missing.
    assert.equal(await queueDepth(env.queue), 300);
    await space;
    assert.equal(roomAgain, true);
    assert.deepEqual(client.stats, { tracked: 300, confirmed: 300, rejected: 0, pending: 0 });
    assert.throws(
      () => client.track('click'),
      (err: unknown) => err instanceof SdkError && err.code === 'closed',
    );

    // The byte bound works the same way.
    const small = createClient({ transport: 'http', url, cliente: 'sdk_full', maxBufferBytes: 1000 });
    let taken = 0;
    const err = (() => {
      for (;;) {
        try {
          small.track('view', { timestamp: '2025-04-13T12:00:00Z' });
          taken++;
        } catch (e) {
          return e;
        }
      }
    })();
    assert.ok(err instanceof BufferFullError && err.limit === 'bytes', String(err));
    assert.ok(taken > 0 && taken < 10, `took ${taken}`);
    await small.close();
    assert.equal(await queueDepth(env.queue), 300 + taken);
  });

  it('holds 10,000 events and 8 MiB by default (README), and refuses the next one', async (t) => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const opened: WarrenClient[] = [];
    // Whatever the outcome, the clients stop retrying: close() gives up (timeout) at once.
    t.after(() => Promise.all(opened.map((c) => c.close({ timeoutMs: 50 }).catch(() => undefined))));
    // Nothing listens: every event stays held. The 10,001st small event is refused.
    const byCount = createClient({ transport: 'http', url: dead, cliente: 'sdk_defaults', backoff: fast });
    opened.push(byCount);
    for (let i = 0; i < 10_000; i++) byCount.track('click');
    assert.equal(byCount.stats.pending, 10_000);
    assert.throws(
      () => byCount.track('click'),
      (err: unknown) => err instanceof BufferFullError && err.limit === 'events',
    );
    assert.equal(byCount.stats.tracked, 10_000);

    // Large events, with the event bound out of the way: the byte bound (8 MiB) stops them. Every
    // event is the same size; each counts its JSON plus one byte for the comma between events.
    const byBytes = createClient({
      transport: 'http',
      url: dead,
      cliente: 'sdk_defaults',
      maxBufferEvents: 1_000_000,
      backoff: fast,
    });
    opened.push(byBytes);
    const usuario = '\u{1F600}'.repeat(128); // 128 characters, 512 bytes of UTF-8
    const timestamp = '2025-04-13T12:00:00.000Z';
    const idOf = (i: number) => `id-${String(i).padStart(125, '0')}`; // 128 characters
    const size =
      Buffer.byteLength(
        JSON.stringify({ id: idOf(0), cliente: 'sdk_defaults', evento: 'e'.repeat(64), timestamp, usuario }),
      ) + 1;
    let taken = 0;
    const err = (() => {
      for (;;) {
        try {
          byBytes.track('e'.repeat(64), { id: idOf(taken), timestamp, usuario });
          taken++;
        } catch (e) {
          return e;
        }
      }
    })();
    assert.ok(err instanceof BufferFullError && err.limit === 'bytes', String(err));
    assert.equal(taken, Math.floor((8 * 1024 * 1024) / size), `took ${taken} events of ${size} bytes`);
    assert.equal(byBytes.stats.pending, taken);
  });

  it('reports 401 and 403 without retrying, and retries 429 after Retry-After', async () => {
    const keyed = {
      INGEST_AUTH: 'keys',
      API_KEYS_FILE: join(env.dir, 'keys-p.json'),
      RATE_LIMIT: '400',
      RATE_BURST: '400',
    };
    const add = warren(['keys', 'add', 'sdk_key'], { ...env.env, ...keyed });
    assert.equal(await add.exited, 0, add.output());
    const key = add.stdout().trim();
    const port = await freePort();
    children.push(await startIngest(env, port, keyed));
    const url = `http://127.0.0.1:${port}`;
    const before = await queueDepth(env.queue);

    const anon = createClient({ transport: 'http', url, cliente: 'sdk_key', backoff: fast });
    const seen: SdkError[] = [];
    anon.on('error', (e) => seen.push(e));
    for (let i = 0; i < 10; i++) anon.track('click');
    await assert.rejects(
      anon.flush(),
      (e: unknown) =>
        e instanceof RejectedError &&
        e.status === 401 &&
        e.serverCode === 'unauthorized' &&
        e.events.length === 10 &&
        /apiKey/.test(e.message),
    );
    assert.equal(seen.length, 1);
    assert.equal(anon.stats.rejected, 10);
    await anon.close(); // the refusal was reported by flush(): nothing left to report

    const other = createClient({ transport: 'http', url, apiKey: key, cliente: 'otro', backoff: fast });
    other.track('click');
    await assert.rejects(other.close(), (e: unknown) => e instanceof RejectedError && e.status === 403);

    const ok = createClient({ transport: 'http', url, apiKey: key, batchSize: 200, flushIntervalMs: 10 });
    const retries: RetryInfo[] = [];
    ok.on('retry', (r) => retries.push(r));
    for (let i = 0; i < 1500; i++) ok.track('click');
    await ok.close();
    const limited = retries.filter((r) => r.reason === 'HTTP 429 rate_limited');
    assert.ok(limited.length > 0, 'expected 429 answers at 400 events/s');
    assert.ok(
      limited.every((r) => r.delayMs >= 1000),
      'Retry-After (>= 1 s) is honoured',
    );
    assert.equal(await queueDepth(env.queue), before + 1500);
  });

  it('keeps pending batches in the spool file across a client restart', async () => {
    const spoolFile = join(env.dir, 'spool.ndjson');
    const dead = `http://127.0.0.1:${await freePort()}`;
    const first = createClient({
      transport: 'http',
      url: dead,
      cliente: 'sdk_spool',
      batchSize: 50,
      spoolFile,
      backoff: fast,
    });
    const ids = Array.from({ length: 500 }, () => first.track('click'));
    await assert.rejects(first.flush(100), (e: unknown) => e instanceof SdkError && e.code === 'timeout');
    assert.throws(
      () => createClient({ transport: 'http', url: dead, spoolFile }),
      (e: unknown) => e instanceof SdkError && e.code === 'spool' && /in use by process/.test(e.message),
    );
    await assert.rejects(
      first.close({ timeoutMs: 50 }),
      (e: unknown) => e instanceof SdkError && e.code === 'timeout',
    );
    assert.deepEqual(
      readSpool(spoolFile)
        .flat()
        .map((e) => e.id),
      ids,
    );
    // A crash in the middle of a write leaves a torn line: it is skipped.
    appendFileSync(spoolFile, '{"add":99,"events":[{"id":"torn');

    const port = await freePort();
    children.push(await startIngest(env, port));
    const before = await queueDepth(env.queue);
    const second = createClient({ transport: 'http', url: `http://127.0.0.1:${port}`, spoolFile });
    assert.equal(second.stats.pending, 500);
    await second.close();
    assert.equal(second.stats.confirmed, 500);
    assert.equal(await queueDepth(env.queue), before + 500);
    assert.equal(readFileSync(spoolFile, 'utf8'), '', 'nothing pending: the spool is empty');
    assert.equal(existsSync(`${spoolFile}.lock`), false);
  });
});
