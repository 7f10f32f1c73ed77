// The change feed's logic (versions.ts) over a stand-in for the pool's query(), answering what the
// version row and the log hold: every change told once, in version order, between the versions
// around it; this process's commits told as they return, or once the changes before them are
// read; one version read at a time, and an ask never answered by a read that started before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change, CountedGroup } from './types.js';
import { ChangeFeed } from './versions.js';

const g = (n: number): CountedGroup[] => [{ t: 60, cliente: 'cliente_uno', evento: 'click', n }];

/** The database as the feed reads it: the version, the log, and the reads made. */
class FakeDb {
  v = 0;
  log = new Map<number, string | null>();
  reads: { release(): void }[] = [];
  /** When set, each read waits for release() (to hold reads under way). */
  hold = false;

  commit(n: number): number {
    this.v++;
    this.log.set(this.v, JSON.stringify([[60, 'cliente_uno', 'click', n]]));
    return this.v;
  }

  async query(_text: string, values?: unknown[]) {
    // The statement reads the store as it is when it starts (its snapshot); its answer may come
    // back later (hold).
    const v = String(this.v);
    const log = [...this.log];
    if (this.hold) await new Promise<void>((release) => this.reads.push({ release }));
    else this.reads.push({ release: () => undefined });
    if (!values) return { rows: [{ v }] };
    const [known, own] = values as [number, number[]];
    const rows = log
      .filter(([k, groups]) => k > known && groups !== null && !own.includes(k))
      .map(([k, groups]) => ({ v, cv: String(k), groups }));
    return { rows: rows.length > 0 ? rows : [{ v, cv: null, groups: null }] };
  }
}

function feedOn(db: FakeDb) {
  const feed = new ChangeFeed(db as never);
  const told: string[] = [];
  feed.onChange((c: Change) => told.push(`${c.before}>${c.after}:${c.groups[0]?.n}`));
  return { feed, told };
}

test("another process's commits are told when the version is asked, own ones as they return", async () => {
  const db = new FakeDb();
  const { feed, told } = feedOn(db);
  assert.equal(await feed.version(), '0');
  feed.committed(db.commit(1), g(1));
  assert.deepEqual(told, ['0>1:1'], 'own commit, next in line: told at once');
  db.commit(2);
  const own = db.commit(3);
  feed.committed(own, g(3));
  assert.deepEqual(told, ['0>1:1'], 'own commit after an unread one: waits');
  assert.equal(await feed.version(), '3');
  assert.deepEqual(told, ['0>1:1', '1>2:2', '2>3:3'], 'in version order, each once');
  assert.equal(await feed.version(), '3');
  feed.committed(3, g(3));
  assert.equal(told.length, 3, 'nothing told twice');
});

test('a rollup (nothing to add) or a gap longer than the log is not told: the chain breaks', async () => {
  const db = new FakeDb();
  const { feed, told } = feedOn(db);
  await feed.version();
  db.v++;
  db.log.set(db.v, null);
  db.commit(2);
  assert.equal(await feed.version(), '2');
  assert.deepEqual(told, ['1>2:2'], 'the rollup (0>1) is not told; what follows it is');
});

test('one version read at a time; an ask during a read is answered by the next read', async () => {
  const db = new FakeDb();
  const { feed, told } = feedOn(db);
  await feed.version();
  db.reads = [];
  db.hold = true;
  const first = feed.version();
  await new Promise((r) => setImmediate(r));
  assert.equal(db.reads.length, 1);
  // Committed after the first read began; these asks come after it, so they must see it.
  db.commit(5);
  const later = [feed.version(), feed.version(), feed.version()];
  await new Promise((r) => setImmediate(r));
  assert.equal(db.reads.length, 1, 'no second read while one is under way');
  db.reads[0]!.release();
  assert.equal(await first, '0', 'the first read started before the commit');
  await new Promise((r) => setImmediate(r));
  assert.equal(db.reads.length, 2, 'one read for all three later asks');
  db.reads[1]!.release();
  assert.deepEqual(await Promise.all(later), ['1', '1', '1'], 'they see the commit made before they asked');
  assert.deepEqual(told, ['0>1:5']);
});
