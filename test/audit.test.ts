// Audit and replay: `warren audit` keeps every published message in rotating, synced NDJSON files;
// after the store is lost, `warren replay` over those files rebuilds the same counts, and a second
// replay counts nothing twice.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Reporte } from '../src/analytics/index.js';
import type { AuditRecord } from '../src/audit/record.js';
import {
  consumerCount,
  freePort,
  getJson,
  publishRaw,
  queueDepth,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  waitFor,
  warren,
} from './support/helpers.js';

const MAX_BYTES = 4096;
let env: TestEnv;
let vars: Record<string, string>;
const procs: WarrenProcess[] = [];

function start(args: string[], extra: Record<string, string> = {}): WarrenProcess {
  const p = warren(args, { ...vars, ...extra });
  procs.push(p);
  return p;
}

async function analytics(db: string): Promise<{ proc: WarrenProcess; base: string }> {
  const port = await freePort();
  const proc = start(['analytics'], {
    DATABASE_URL: `sqlite:${join(env.dir, db)}`,
    ANALYTICS_PORT: String(port),
  });
  const base = `http://127.0.0.1:${port}`;
  await untilReady(proc, base, { timeoutMs: 60_000 });
  return { proc, base };
}

function auditFiles(): string[] {
  const dir = env.env.AUDIT_DIR!;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .map((f) => join(dir, f));
}

function records(): AuditRecord[] {
  return auditFiles().flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord),
  );
}

const idOf = (r: AuditRecord) => ((r.body as { id?: string } | undefined)?.id ?? r.message_id) as string;

before(() => {
  env = testEnv('audit');
  // AUDIT=true: every part declares the audit queue, so nothing published is missed by the audit.
  vars = { ...env.env, AUDIT: 'true', AUDIT_MAX_BYTES: String(MAX_BYTES), BATCH_SIZE: '50' };
});

after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await env.cleanup();
});

test('audit files hold every message; replay into an empty store rebuilds the counts, twice safely', async () => {
  const audit = start(['audit']);
  await waitFor('the audit consumer', async () => (await consumerCount(env.auditQueue)) === 1, 60_000);
  const first = await analytics('first.db');

  const clients = [
    start(['client', '--name', 'cliente_uno', '--rate', '0', '--count', '300']),
    start(['client', '--name', 'cliente_dos', '--rate', '0', '--count', '120']),
  ];
  const dup = JSON.stringify({
    id: 'dup-1',
    cliente: 'cliente_tres',
    evento: 'view',
    timestamp: '2025-04-13T12:00:00Z',
  });
  await publishRaw(env.exchange, [dup, dup, '{not json', Buffer.from([0xff, 0xfe, 0x00])]);
  // No id in the body: the message_id is the id, in the count and in the audit file alike.
  await publishRaw(
    env.exchange,
    ['{"cliente":"cliente_tres","evento":"click","timestamp":"2025-04-13T12:00:00+05:30"}'],
    {
      messageId: 'mid-1',
    },
  );
  for (const c of clients) {
    assert.equal(await c.exited, 0, c.output());
    assert.match(c.stdout(), /\d+ confirmed\n$/);
  }
  const expected: Reporte = { total: 422, clientes: { cliente_uno: 300, cliente_dos: 120, cliente_tres: 2 } };
  const counted = await waitFor('all counted', async () => {
    const r = await getJson<Reporte>(`${first.base}/reporte`);
    return r.body.total === expected.total ? r.body : undefined;
  });
  assert.deepEqual(counted, expected);
  // 420 client events + 2 copies of dup-1 + 2 invalid + mid-1.
  await waitFor('the audit to write every message', () => records().length >= 425);
  await waitFor('the audit queue to be drained', async () => (await queueDepth(env.auditQueue)) === 0);
  assert.equal(await audit.kill('SIGTERM'), 0, audit.output());

  const recs = records();
  assert.equal(recs.length, 425, 'one line per message (no redelivery happened)');
  const files = auditFiles();
  assert.ok(files.length > 1, `rotated at ${MAX_BYTES} bytes: ${files.length} files`);
  for (const f of files) assert.ok(statSync(f).size <= MAX_BYTES, `${f} is ${statSync(f).size} bytes`);
  for (const r of recs) assert.match(r.at, /^\d{4}-\d\d-\d\dT/);
  assert.equal(recs.filter((r) => idOf(r) === 'dup-1').length, 2);
  assert.ok(recs.some((r) => r.message_id === 'mid-1' && (r.body as { id?: string }).id === undefined));
  const raws = recs.filter((r) => r.raw !== undefined).map((r) => Buffer.from(r.raw!, 'base64'));
  assert.deepEqual(raws.map((b) => b.toString('latin1')).sort(), ['{not json', '\xff\xfe\x00'].sort());

  // The store is lost: a new analytics on an empty database, fed by replay only.
  assert.equal(await first.proc.kill('SIGTERM'), 0);
  const second = await analytics('second.db');
  const status = async () =>
    (
      await getJson<{ processed: number; duplicates: number; invalid: number }>(
        `${second.base}/api/v1/status`,
      )
    ).body;
  const replayOnce = async (args: string[]) => {
    // Replay reads the store analytics counts into (its dedupe horizon): an empty one here.
    const p = start(['replay', ...args], { DATABASE_URL: `sqlite:${join(env.dir, 'second.db')}` });
    assert.equal(await p.exited, 0, p.output());
    return p;
  };
  const r1 = await replayOnce([env.env.AUDIT_DIR!]);
  assert.equal(r1.stdout(), '423 confirmed\n');
  assert.match(r1.output(), /skipped 2 invalid and 0 unreadable lines/);
  await waitFor('the replay to be counted', async () => {
    const s = await status();
    return s.processed === 422 && s.duplicates === 1;
  });
  assert.deepEqual((await getJson<Reporte>(`${second.base}/reporte`)).body, expected);

  // Again, naming the files one by one: every event is a duplicate now.
  const r2 = await replayOnce(files);
  assert.equal(r2.stdout(), '423 confirmed\n');
  await waitFor('the second replay to be seen', async () => (await status()).duplicates === 1 + 423);
  assert.equal((await status()).processed, 422);
  assert.equal((await status()).invalid, 0, 'replay never sends what cannot be counted');
  assert.deepEqual((await getJson<Reporte>(`${second.base}/reporte`)).body, expected);
});

test('replay names a missing path and exits 2', async () => {
  const p = start(['replay', join(env.dir, 'no-such-dir')]);
  assert.equal(await p.exited, 2);
  assert.match(p.output(), /cannot read .*no-such-dir/);
});
