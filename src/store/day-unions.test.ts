// The kept day unions' memory bound: past it the least recently used go first, and a union is
// used only with the day count it was read with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DayUnions, type Groups } from './day-unions.js';
import { sketchOf } from './hll.js';

const all = (values: string[]): Groups => new Map([['', sketchOf(values)]]);

describe('DayUnions', () => {
  it('holds at most its byte budget, dropping the least recently used first', () => {
    const dense = () => all(Array.from({ length: 3000 }, (_, i) => `u${i}`));
    const kept = new DayUnions(100_000); // about 6 dense unions
    for (let d = 0; d < 20; d++) {
      kept.set(`day${d}`, d, dense());
      if (d === 3) assert.ok(kept.get('day0', 0), 'day0 used: now the most recent');
    }
    assert.ok(kept.bytes <= 100_000, `${kept.bytes} bytes kept`);
    assert.ok(kept.size >= 5 && kept.size <= 7, `${kept.size} unions kept`);
    assert.ok(kept.get('day19', 19), 'the newest is kept');
    assert.equal(kept.get('day1', 1), undefined, 'an old one is gone');
  });

  it('counts every group of a day (one per client) against the budget', () => {
    const kept = new DayUnions(1_000_000);
    const clients = (n: number): Groups =>
      new Map(Array.from({ length: n }, (_, c) => [`c${c}`, sketchOf([`u${c}-a`, `u${c}-b`])]));
    for (let d = 0; d < 100; d++) kept.set(`day${d}`, d, clients(100));
    assert.ok(kept.bytes <= 1_000_000, `${kept.bytes} bytes kept`);
    assert.ok(kept.size < 100 && kept.size > 10, `${kept.size} days kept`);
  });

  it('by default holds 32 MiB of unions (README), no more', () => {
    const kept = new DayUnions();
    const dense = all(Array.from({ length: 3000 }, (_, i) => `u${i}`)); // one dense sketch, about 16.5 KB
    for (let d = 0; d < 2500; d++) kept.set(`day${d}`, d, dense);
    const budget = 32 * 1024 * 1024;
    assert.ok(kept.bytes <= budget, `${kept.bytes} bytes kept`);
    assert.ok(kept.bytes > budget - 20_000, `${kept.bytes} bytes kept: the budget is used`);
    assert.ok(kept.size > 1900 && kept.size < 2100, `${kept.size} unions kept`);
  });

  it('gives a union only for the count it was read with', () => {
    const kept = new DayUnions();
    kept.set('d', 10, all(['a']));
    assert.equal(kept.get('d', 11), undefined);
    assert.equal(kept.get('d', 10)?.get('')?.estimate(), 1);
  });
});
