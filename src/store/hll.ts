// A HyperLogLog distinct-count sketch (Flajolet et al. 2007), written once for both stores: SQLite
// keeps it as a BLOB, PostgreSQL as bytea, and this code merges and reads it for either, so both
// stores answer with one algorithm (no database extension assumed).
//
// - Precision p = 14: 16,384 registers, standard error 1.04/√m ≈ 0.81% (p95 ≈ 1.6%).
// - Hash: MurmurHash3 x86_32 of the UTF-8 bytes. 32 bits: p for the register, 18 for the rank,
//   so registers hold 0..19 (5 bits). Good far beyond Warren's scale (the estimator below stays
//   unbiased while the distinct count is well under 2^32).
// - Sparse while small: up to SPARSE_MAX distinct hashes the sketch is the set of hashes itself,
//   so small counts are exact (up to 32-bit hash collisions: ~0.001 expected at 2,500 values)
//   and take a few bytes per value. Above it, the dense registers.
// - Canonical: the representation is a function of the set of hashes added (sparse iff at most
//   SPARSE_MAX of them; dense registers are the max over the set), so merging sketches gives
//   byte for byte the sketch of the union, whatever the order or grouping of the merges.
// - Estimator: Ertl's improved raw estimator ("New cardinality estimation algorithms for
//   HyperLogLog sketches", 2017, algorithm 6), accurate over the whole range without the
//   empirical bias tables of HyperLogLog++.

export const P = 14;
const M = 1 << P;
/** Bits of the hash left for the rank. */
const Q = 32 - P;
/** Bits per dense register (ranks 0..Q+1 = 0..19). */
const BITS = 5;
const DENSE_BYTES = (M * BITS) / 8;
/** At most this many distinct hashes stay sparse (~3 bytes each, ~7.5 KB; dense is 10 KB). */
export const SPARSE_MAX = 2500;
const SPARSE = 1;
const DENSE = 2;

let scratch = Buffer.allocUnsafe(1024);

/** MurmurHash3 x86_32 (Austin Appleby, public domain) of a string's UTF-8 bytes. */
export function murmur3(value: string, seed = 0): number {
  // Encoded into a reused buffer: a new Buffer per value was most of the hashing cost of a commit.
  // A UTF-16 code unit is at most 3 UTF-8 bytes.
  if (value.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(value.length * 3);
  const data = scratch;
  const n = data.write(value, 0, 'utf8');
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the tail bytes fall through by design
    case 3:
      k ^= data[i + 2]! << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the tail bytes fall through by design
    case 2:
      k ^= data[i + 1]! << 8;
    case 1:
      k ^= data[i]!;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The register a hash falls in, and its rank (position of the first 1 bit in the other Q bits). */
function registerOf(h: number): [index: number, rank: number] {
  const w = h & ((1 << Q) - 1);
  // clz32 counts the p index bits' places too; w === 0 gives the maximum rank, Q + 1.
  return [h >>> Q, Math.clz32(w) - P + 1];
}

export class Sketch {
  /** Sparse: the distinct hashes. Undefined once dense. */
  private hashes: Set<number> | undefined = new Set();
  /** Dense: one rank per register. */
  private regs: Uint8Array | undefined;

  /** Adds a value (a usuario, scoped by the caller); returns whether the sketch changed. */
  add(value: string): boolean {
    return this.addHash(murmur3(value));
  }

  addHash(h: number): boolean {
    if (this.hashes) {
      if (this.hashes.has(h)) return false;
      this.hashes.add(h);
      if (this.hashes.size > SPARSE_MAX) this.densify();
      return true;
    }
    const regs = this.regs as Uint8Array;
    const [i, r] = registerOf(h);
    if (regs[i]! >= r) return false;
    regs[i] = r;
    return true;
  }

  /** Adds every value `other` holds (other is left as it was); returns whether this changed. */
  merge(other: Sketch): boolean {
    if (other.hashes) {
      let changed = false;
      for (const h of other.hashes) changed = this.addHash(h) || changed;
      return changed;
    }
    if (this.hashes) this.densify();
    const mine = this.regs as Uint8Array;
    const theirs = other.regs as Uint8Array;
    let changed = false;
    for (let i = 0; i < M; i++) {
      if (theirs[i]! > mine[i]!) {
        mine[i] = theirs[i]!;
        changed = true;
      }
    }
    return changed;
  }

  get sparse(): boolean {
    return this.hashes !== undefined;
  }

  /** The estimated number of distinct values added (exact while sparse), rounded. */
  estimate(): number {
    if (this.hashes) return this.hashes.size;
    return Math.round(ertl(this.regs as Uint8Array));
  }

  /** [kind, p], then sparse: the sorted hashes as LEB128 deltas; dense: the registers, 5 bits each. */
  serialize(): Buffer {
    if (this.hashes) {
      const sorted = Uint32Array.from(this.hashes).sort();
      const out = Buffer.allocUnsafe(2 + sorted.length * 5);
      out[0] = SPARSE;
      out[1] = P;
      let o = 2;
      let prev = 0;
      for (const h of sorted) {
        let d = h - prev;
        prev = h;
        while (d >= 0x80) {
          out[o++] = (d & 0x7f) | 0x80;
          d = Math.floor(d / 128);
        }
        out[o++] = d;
      }
      return out.subarray(0, o);
    }
    const out = Buffer.allocUnsafe(2 + DENSE_BYTES);
    out[0] = DENSE;
    out[1] = P;
    packRegisters(this.regs as Uint8Array, out, 2);
    return out;
  }

  static deserialize(buf: Uint8Array): Sketch {
    if (buf.length < 2 || buf[1] !== P || (buf[0] !== SPARSE && buf[0] !== DENSE)) {
      throw new Error(
        `not a Warren sketch (kind ${buf[0]}, precision ${buf[1]}; expected kind 1 or 2, precision ${P}): ` +
          'the uniques tables hold only what this code wrote; restore them from a backup or rebuild them',
      );
    }
    const s = new Sketch();
    if (buf[0] === SPARSE) {
      const hashes = s.hashes as Set<number>;
      let prev = 0;
      let o = 2;
      while (o < buf.length) {
        let d = 0;
        let scale = 1;
        let b: number;
        do {
          b = buf[o++]!;
          d += (b & 0x7f) * scale;
          scale *= 128;
        } while (b & 0x80 && o < buf.length);
        prev += d;
        hashes.add(prev);
      }
      if (hashes.size > SPARSE_MAX) s.densify();
      return s;
    }
    if (buf.length !== 2 + DENSE_BYTES) {
      throw new Error(`a dense sketch has ${2 + DENSE_BYTES} bytes, this one ${buf.length}: it is truncated`);
    }
    const regs = new Uint8Array(M);
    unpackRegisters(buf, 2, regs);
    s.hashes = undefined;
    s.regs = regs;
    return s;
  }

  private densify(): void {
    const regs = new Uint8Array(M);
    for (const h of this.hashes as Set<number>) {
      const [i, r] = registerOf(h);
      if (regs[i]! < r) regs[i] = r;
    }
    this.hashes = undefined;
    this.regs = regs;
  }
}

/** A sketch of the given values (tests, and a batch's sketches in commit.ts). */
export function sketchOf(values: Iterable<string>): Sketch {
  const s = new Sketch();
  for (const v of values) s.add(v);
  return s;
}

// Registers are 5 bits each, little-endian bit order from byte `at` (register i at bits 5i..5i+4),
// so 8 registers fill 5 bytes. Packed 8 at a time: the commit path reads and writes a dense sketch
// per touched bucket, and bit-by-bit loops made that most of the cost of a commit with users.

/** Writes the M registers into out[at …] (DENSE_BYTES bytes). */
export function packRegisters(regs: Uint8Array, out: Uint8Array, at: number): void {
  for (let i = 0, o = at; i < M; i += 8, o += 5) {
    const lo =
      (regs[i]! |
        (regs[i + 1]! << 5) |
        (regs[i + 2]! << 10) |
        (regs[i + 3]! << 15) |
        (regs[i + 4]! << 20) |
        (regs[i + 5]! << 25) |
        ((regs[i + 6]! & 3) << 30)) >>>
      0;
    out[o] = lo & 0xff;
    out[o + 1] = (lo >>> 8) & 0xff;
    out[o + 2] = (lo >>> 16) & 0xff;
    out[o + 3] = lo >>> 24;
    out[o + 4] = (regs[i + 6]! >> 2) | (regs[i + 7]! << 3);
  }
}

/** Reads the M registers from buf[at …]. */
export function unpackRegisters(buf: Uint8Array, at: number, regs: Uint8Array): void {
  for (let i = 0, o = at; i < M; i += 8, o += 5) {
    const lo = (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0;
    const hi = buf[o + 4]!;
    regs[i] = lo & 31;
    regs[i + 1] = (lo >>> 5) & 31;
    regs[i + 2] = (lo >>> 10) & 31;
    regs[i + 3] = (lo >>> 15) & 31;
    regs[i + 4] = (lo >>> 20) & 31;
    regs[i + 5] = (lo >>> 25) & 31;
    regs[i + 6] = (lo >>> 30) | ((hi & 7) << 2);
    regs[i + 7] = hi >>> 3;
  }
}

// Ertl 2017, algorithm 6: the improved raw estimator over the histogram of register values.
function ertl(regs: Uint8Array): number {
  const c = new Array<number>(Q + 2).fill(0);
  for (let i = 0; i < M; i++) c[regs[i]!]!++;
  let z = M * tau(1 - c[Q + 1]! / M);
  for (let k = Q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += M * sigma(c[0]! / M);
  return (M * M) / (2 * Math.LN2 * z);
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let prev: number;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z !== prev);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let prev: number;
  do {
    x = Math.sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (z !== prev);
  return z / 3;
}
