// Store conformance under concurrency: several processes migrating one empty database at the same
// moment (both dialects), and several PostgresStore instances committing overlapping ids into the
// same counter rows at once (exact totals: no lost increment, no double count).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ParsedEvent } from '../src/event.js';
import type { CommitResult, Store } from '../src/store/index.js';
import { ROOT, waitFor } from './support/helpers.js';
import { ev, kinds, rows, withStore } from './support/store.js';

const url = (p: string) => pathToFileURL(join(ROOT, p)).href;
// A child that loads the store code, says "ready", then migrates and commits one event when told
// "go" on stdin: every child starts its migration at the same moment (a barrier, not a sleep).
const CHILD = `
import { createStore } from ${JSON.stringify(url('src/store/index.ts'))};
import { parse } from ${JSON.stringify(url('src/event.ts'))};
const [dbUrl, id] = process.argv.slice(1);
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
const store = createStore(dbUrl);
await store.migrate();
const p = parse({ id, cliente: 'cliente_uno', evento: 'boot', timestamp: '2025-04-13T12:00:00Z' });
if (!p.ok) throw new Error('bad test event');
await store.commit([p.event]);
await store.close();
process.stdout.write('done\\n');
`;

function migrateChild(
  dbUrl: string,
  id: string,
): { child: ChildProcess; lines: string[]; exit: Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, dbUrl, id], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  const exit = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  return { child, lines, exit };
}

const MIGRATIONS = (dialect: string) =>
  readdirSync(join(ROOT, 'src/store/migrations', dialect)).filter((f) => /^\d+_.*\.sql$/.test(f)).length;

for (const kind of kinds) {
  describe(`store concurrency: ${kind.name}`, () => {
    test('migrate() by several processes and connections at once on one empty database', async () => {
      const db = await kind.fresh();
      const opened: Store[] = [];
      const children = [1, 2, 3].map((n) => migrateChild(db.url, `child-${n}`));
      try {
        await waitFor('children loaded', () => children.every((c) => c.lines.includes('ready')), 60_000);
        // Two more connections in this process join the same moment.
        const local = [db.open(), db.open()];
        opened.push(...local);
        for (const c of children) c.child.stdin!.end('go\n');
        await Promise.all(local.map((s) => s.migrate()));
        const codes = await Promise.all(children.map((c) => c.exit));
        assert.deepEqual(codes, [0, 0, 0]);
        for (const c of children) assert.ok(c.lines.includes('done'));
        const store = local[0]!;
        const versions = await db.sql(store, 'SELECT version FROM schema_migrations');
        assert.equal(versions.length, MIGRATIONS(kind.name));
        // The schema works for every instance: each child's commit is there, and ours count too.
        await local[1]!.commit([ev('local', 'cliente_uno', 'boot', '2025-04-13T12:00:00Z')]);
        assert.deepEqual(rows(await store.report({})), ['cliente_uno/boot=4']);
      } finally {
        for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
        for (const s of opened) await s.close().catch(() => undefined);
        await db.drop();
      }
    });
  });
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Few counter rows (3 clients x 2 events x 3 minutes), many overlapping ids, random order.
function eventFor(i: number): ParsedEvent {
  const minute = String(i % 3).padStart(2, '0');
  return ev(
    `c-${i}`,
    `cliente_${i % 3}`,
    i % 2 ? 'click' : 'view',
    `2025-04-13T12:${minute}:${String(i % 60).padStart(2, '0')}Z`,
  );
}

describe('store concurrency: postgres commits', () => {
  const pgKind = kinds.find((k) => k.name === 'postgres')!;
  test('several stores commit overlapping ids into the same counters at once: exact totals', () =>
    withStore(pgKind, async (first, db) => {
      const STORES = 4;
      const BATCHES = 6;
      const BATCH = 150;
      const POOL = 900;
      const stores = [first, ...Array.from({ length: STORES - 1 }, () => db.connect())];
      const next = rng(42);
      const plan = stores.map(() =>
        Array.from({ length: BATCHES }, () =>
          Array.from({ length: BATCH }, () => eventFor(Math.floor(next() * POOL))),
        ),
      );
      const all = plan.flat(2);
      const distinct = new Map(all.map((e) => [e.id!, e]));
      // Each store runs two committers at once (its pool has several connections).
      const results: CommitResult[] = [];
      await Promise.all(
        stores.flatMap((store, s) =>
          [0, 1].map(async (lane) => {
            for (let b = lane; b < BATCHES; b += 2) results.push(await store.commit(plan[s]![b]!));
          }),
        ),
      );
      const sum = (k: keyof CommitResult) => results.reduce((n, r) => n + r[k], 0);
      assert.equal(sum('counted'), distinct.size, 'each distinct id counted by exactly one commit');
      assert.equal(sum('duplicates'), all.length - distinct.size);
      const expected = new Map<string, number>();
      for (const e of distinct.values()) {
        const k = `${e.cliente}/${e.evento}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      const want = [...expected].map(([k, n]) => `${k}=${n}`).sort();
      assert.deepEqual(rows(await first.report({})), want, 'all-time totals');
      assert.deepEqual(rows(await first.report({ from: 0, to: 2 ** 40 })), want, 'minute counters');
      const seen = await db.sql(first, 'SELECT COUNT(*) AS n FROM seen_ids');
      assert.equal(Number(seen[0]?.n), distinct.size);
    }));
});
