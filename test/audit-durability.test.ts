// README, "audit": with AUDIT=true every part declares cola_auditoria, so what is published while
// the audit consumer is down waits for it; and "a message is acknowledged only after its line is
// written and flushed to disk". The consumer runs under strace: every basic.ack it writes to the
// broker must come after an fdatasync of an audit file that finished since the previous ack.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  consumerCount,
  publishRaw,
  ROOT,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
  warren,
  within,
} from './support/helpers.js';

const env: TestEnv = testEnv('auditsync');
const vars = { ...env.env, AUDIT: 'true', BATCH_SIZE: '10', BATCH_WAIT_MS: '20' };
const procs: WarrenProcess[] = [];

after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await env.cleanup();
});

function lines(): string[] {
  const dir = env.env.AUDIT_DIR!;
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.ndjson'));
  } catch {
    return [];
  }
  return files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

// A basic.ack frame on the wire: payload size 13, class 60 (basic), method 80 (ack), as strace -xx
// prints bytes.
const ACK_FRAME = '\\x00\\x00\\x00\\x0d\\x00\\x3c\\x00\\x50';

/**
 * Walks an strace -f -y -xx trace in order. A sync counts once it has returned 0 (a call split by
 * another thread's shows its fd on the "unfinished" line and its result on the "resumed" one).
 */
function acksAfterSyncs(trace: string): { acks: number; unsynced: number; syncs: number } {
  const pending = new Map<string, boolean>();
  let synced = false;
  let acks = 0;
  let unsynced = 0;
  let syncs = 0;
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, call] = m as unknown as [string, string, string];
    const sync = /^f(?:data)?sync\(\d+<([^>]*)>(.*)$/.exec(call);
    if (sync) {
      // -xx prints the fd's path in hex too.
      const path = sync[1]!.replace(/\\x([0-9a-f]{2})/g, (_, h: string) =>
        String.fromCharCode(Number.parseInt(h, 16)),
      );
      const audit = path.endsWith('.ndjson');
      if (sync[2]!.includes('<unfinished')) pending.set(pid, audit);
      else if (audit && /\)\s+=\s+0$/.test(sync[2]!)) {
        synced = true;
        syncs++;
      }
      continue;
    }
    const resumed = /^<\.\.\. f(?:data)?sync resumed>.*\)\s+=\s+(-?\d+)/.exec(call);
    if (resumed) {
      if (pending.get(pid) && resumed[1] === '0') {
        synced = true;
        syncs++;
      }
      pending.delete(pid);
      continue;
    }
    if (/^(write|writev|sendto|sendmsg)\(/.test(call) && call.includes(ACK_FRAME)) {
      acks++;
      if (!synced) unsynced++;
      synced = false;
    }
  }
  return { acks, unsynced, syncs };
}

test('audit: what is published while it is down waits in cola_auditoria; each ack follows the fdatasync of its lines', async () => {
  assert.equal(spawnSync('strace', ['-V']).error, undefined, 'strace is needed: apt-get install -y strace');
  // The audit consumer has never run: the client declares cola_auditoria (AUDIT=true) and what it
  // publishes waits there.
  const early = warren(['client', '--name', 'cliente_uno', '--rate', '0', '--count', '40'], vars);
  procs.push(early);
  assert.equal(await early.exited, 0, early.output());
  assert.match(early.stdout(), /^40 confirmed\n$/);
  assert.equal(
    await consumerCount(env.auditQueue),
    0,
    'cola_auditoria declared by the client, no consumer yet',
  );

  const trace = join(env.dir, 'strace.txt');
  const child = spawn(
    'strace',
    [
      '-f',
      '-y',
      '-xx',
      '-s',
      '4096',
      '-e',
      'trace=fsync,fdatasync,write,writev,sendto,sendmsg',
      '-o',
      trace,
      process.execPath,
      join(ROOT, 'bin', 'warren.js'),
      'audit',
    ],
    { cwd: ROOT, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  procs.push({ child, output: () => out, stdout: () => out, exited, kill: async () => exited });
  try {
    await waitFor('the 40 early messages written', () => lines().length >= 40, 60_000);
    // More, in rounds, while it runs: several batches, several acks.
    for (let round = 0; round < 4; round++) {
      const bodies = Array.from({ length: 15 }, (_, i) =>
        JSON.stringify({ id: `r${round}-${i}`, cliente: 'cliente_dos', evento: 'view' }),
      );
      await publishRaw(env.exchange, bodies);
      await waitFor(`round ${round} written`, () => lines().length >= 40 + 15 * (round + 1), 30_000);
    }
  } finally {
    // SIGTERM to the consumer itself (strace's child), as a service manager stops it.
    const tracee = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)[0];
    if (tracee) process.kill(Number(tracee), 'SIGTERM');
    else child.kill('SIGTERM');
  }
  assert.equal(await within('the audit consumer to stop', 60_000, exited), 0, out);

  const written = lines();
  assert.equal(written.length, 100, 'one line per message');
  const seen = new Set(written.map((l) => (JSON.parse(l) as { body: { id?: string } }).body.id));
  for (let round = 0; round < 4; round++)
    for (let i = 0; i < 15; i++) assert.ok(seen.has(`r${round}-${i}`), `r${round}-${i} missing`);
  const { acks, unsynced, syncs } = acksAfterSyncs(readFileSync(trace, 'utf8'));
  assert.ok(acks >= 2, `expected several basic.ack frames in the trace, saw ${acks}`);
  assert.ok(syncs >= acks, `${syncs} syncs of audit files for ${acks} acks`);
  assert.equal(
    unsynced,
    0,
    `${unsynced} of ${acks} acks went out with no audit file synced since the previous one`,
  );
});
