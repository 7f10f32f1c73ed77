// The distinct-count sketch (hll.ts) against exact sets: merging is a union (commutative,
// associative, idempotent, byte for byte), adding a value twice changes nothing, small sets are
// counted exactly, large ones within the error the precision promises, and serialising loses nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { murmur3, P, packRegisters, Sketch, SPARSE_MAX, sketchOf, unpackRegisters } from './hll.js';

const bytes = (s: Sketch) => s.serialize().toString('hex');
const merged = (...sketches: Sketch[]) => {
  const out = new Sketch();
  for (const s of sketches) out.merge(s);
  return out;
};
const roundTrip = (s: Sketch) => Sketch.deserialize(s.serialize());

// Sets that are sparse, dense, or cross the threshold when merged.
const values = fc.oneof(
  fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 60 }),
  fc
    .record({ prefix: fc.string({ maxLength: 3 }), from: fc.nat(5000), n: fc.integer({ min: 0, max: 4000 }) })
    .map(({ prefix, from, n }) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`)),
);

describe('murmur3', () => {
  it('matches the reference vectors', () => {
    assert.equal(murmur3(''), 0);
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('hello'), 0x248bfa47);
    assert.equal(murmur3('Hello, world!', 1234), 0xfaf6cdb3);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  });
});

describe('sketch', () => {
  it('merging is commutative, associative and idempotent, and equals the sketch of the union', () => {
    fc.assert(
      fc.property(values, values, values, (a, b, c) => {
        const [sa, sb, sc] = [sketchOf(a), sketchOf(b), sketchOf(c)];
        const union = bytes(sketchOf([...a, ...b, ...c]));
        assert.equal(bytes(merged(sa, sb, sc)), union);
        assert.equal(bytes(merged(sc, sb, sa)), union);
        assert.equal(bytes(merged(merged(sa, sb), sc)), bytes(merged(sa, merged(sb, sc))));
        assert.equal(bytes(merged(sa, sa)), bytes(sa));
        // Merging never changes its argument.
        assert.equal(bytes(sa), bytes(sketchOf(a)));
      }),
      { numRuns: 60 },
    );
  });

  it('adding a value twice changes nothing, and says so', () => {
    fc.assert(
      fc.property(values, fc.string({ minLength: 1 }), (a, v) => {
        const s = sketchOf(a);
        s.add(v);
        const before = bytes(s);
        assert.equal(s.add(v), false);
        assert.equal(bytes(s), before);
      }),
      { numRuns: 60 },
    );
  });

  it('survives serialising, sparse and dense', () => {
    fc.assert(
      fc.property(values, (a) => {
        const s = sketchOf(a);
        const back = roundTrip(s);
        assert.equal(bytes(back), bytes(s));
        assert.equal(back.estimate(), s.estimate());
        assert.equal(back.sparse, s.sparse);
      }),
      { numRuns: 60 },
    );
  });

  it('counts small sets exactly while sparse, and stays compact', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 300 }), (a) => {
        const s = sketchOf([...a, ...a]);
        assert.equal(s.estimate(), a.length);
        assert.ok(s.serialize().length <= 2 + a.length * 5);
      }),
    );
    const edge = sketchOf(Array.from({ length: SPARSE_MAX }, (_, i) => `u${i}`));
    assert.equal(edge.sparse, true);
    assert.equal(edge.estimate(), SPARSE_MAX);
    assert.ok(edge.serialize().length < 9_000, `${edge.serialize().length} bytes at the sparse limit`);
    edge.add('one more');
    assert.equal(edge.sparse, false);
    assert.equal(edge.serialize().length, 2 + 10_240);
  });

  it('estimates large sets within 2% at the 95th percentile', () => {
    const errors: number[] = [];
    for (const n of [3_000, 10_000, 40_000, 150_000]) {
      for (let trial = 0; trial < 10; trial++) {
        const s = new Sketch();
        for (let i = 0; i < n; i++) s.add(`t${trial}-user-${i}`);
        errors.push(Math.abs(s.estimate() - n) / n);
      }
    }
    errors.sort((x, y) => x - y);
    const p95 = errors[Math.floor(errors.length * 0.95) - 1] as number;
    assert.ok(p95 <= 0.02, `p95 relative error ${p95}`);
    // And not suspiciously exact: a dense sketch estimates.
    assert.ok(errors.some((e) => e > 0));
  });

  it('refuses bytes it did not write, naming the cause', () => {
    assert.throws(() => Sketch.deserialize(Buffer.from([9, 14])), /not a Warren sketch/);
    assert.throws(() => Sketch.deserialize(Buffer.from([1, 12, 5])), /precision/);
    assert.throws(() => Sketch.deserialize(Buffer.from([2, 14, 0, 0])), /truncated/);
  });
});

describe('dense register packing', () => {
  // The stored layout, one bit at a time: register i's bit j at bit 5i + j, little-endian.
  const M = 1 << P;
  const reference = (regs: Uint8Array) => {
    const out = new Uint8Array((M * 5) / 8);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < 5; j++) if ((regs[i]! >> j) & 1) out[(i * 5 + j) >> 3]! |= 1 << ((i * 5 + j) & 7);
    return out;
  };

  it('writes and reads the stored bit layout, 8 registers per 5 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: M, maxLength: M, max: 19 }), (regs) => {
        const out = new Uint8Array(2 + (M * 5) / 8);
        packRegisters(regs, out, 2);
        assert.deepEqual(out.subarray(2), reference(regs));
        const back = new Uint8Array(M);
        unpackRegisters(out, 2, back);
        assert.deepEqual(back, regs);
      }),
      { numRuns: 20 },
    );
  });
});
