// Durable means synced (DESIGN.md): the consumer acks a batch right after its commit returns, so
// that commit must survive an OS crash or a power loss. SQLite in WAL mode with synchronous=NORMAL
// syncs the WAL only at checkpoints; FULL syncs it on every commit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../src/store/index.js';
import { ROOT } from './support/helpers.js';

const SYNCHRONOUS_FULL = 2; // https://www.sqlite.org/pragma.html#pragma_synchronous

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'warren-durable-'));
}

test('the SQLite store commits in WAL mode with synchronous=FULL on the connection it commits on', async () => {
  const dir = tempDir();
  const store = new SqliteStore(join(dir, 'warren.db'));
  try {
    await store.migrate();
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('synchronous', { simple: true }), SYNCHRONOUS_FULL);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every SQLite commit syncs the WAL file before it returns (fsync calls traced with strace)', () => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  assert.equal(strace.error, undefined, 'strace is needed for this test: apt-get install -y strace');
  const dir = tempDir();
  const db = join(dir, 'warren.db');
  const trace = join(dir, 'trace.txt');
  const batches = 25;
  try {
    // -f: SQLite runs on the main thread, but tsx's loader starts threads; -y names each fd's file.
    const run = spawnSync(
      'strace',
      [
        '-f',
        '-y',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        trace,
        process.execPath,
        '--import',
        'tsx',
        join(ROOT, 'test', 'support', 'store-sync-child.ts'),
        db,
        String(batches),
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(run.status, 0, `child failed: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`committed ${batches}`));
    const walSyncs = readFileSync(trace, 'utf8')
      .split('\n')
      // A call interrupted by another thread's shows as "<unfinished ...>": count calls, not results.
      .filter((l) => /f(data)?sync\(\d+<[^>]*warren\.db-wal>/.test(l)).length;
    // NORMAL syncs the WAL only when it checkpoints (here: once, at close); FULL on every commit.
    assert.ok(walSyncs >= batches, `expected at least ${batches} syncs of the WAL, saw ${walSyncs}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
