// The unique-users stage's data: generated from a seed, so every run (and both stores) gets the
// same events, and kept in typed arrays so exact distinct counts can be computed for any range.
//
// Users: `users` of them, user u belonging to client u % clients (users are per client anyway:
// CONTRACT.md "Event"). Every user sends at least one event; the rest of the events go to users
// drawn from a Zipf distribution (exponent 1: a few very active users, a long tail of rare ones).
// A pure Zipf draw of a few million events reaches well under half of a million users; the first
// pass makes the distinct count really be `users`. Events are spread evenly over `days` ending at
// `now`, in time order (as they arrive in production: a batch touches few minutes).

/** Mulberry32: a small, fast, seedable PRNG; uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DataSpec {
  events: number;
  users: number;
  clients: number;
  types: number;
  days: number;
  seed: number;
  /** The end of the data, epoch ms (exclusive). */
  now: number;
}

export interface Data {
  spec: DataSpec;
  /** Event time, epoch ms, ascending. */
  ms: Float64Array;
  user: Uint32Array;
  type: Uint8Array;
}

/** A Zipf(1) sampler over ranks 0..n-1 (inverse CDF by binary search). */
function zipf(n: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1);
    cdf[k] = sum;
  }
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function generate(spec: DataSpec): Data {
  if (spec.events < spec.users) throw new Error('the unique-users stage needs at least one event per user');
  const rand = prng(spec.seed);
  const draw = zipf(spec.users, rand);
  const user = new Uint32Array(spec.events);
  for (let i = 0; i < spec.users; i++) user[i] = i;
  // A rank → user map that scatters the most active users over the clients.
  const stride = coprimeStride(spec.users);
  for (let i = spec.users; i < spec.events; i++) user[i] = (draw() * stride) % spec.users;
  for (let i = spec.events - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = user[i]!;
    user[i] = user[j]!;
    user[j] = tmp;
  }
  const ms = new Float64Array(spec.events);
  const type = new Uint8Array(spec.events);
  const start = spec.now - spec.days * 86_400_000;
  const step = (spec.now - start) / spec.events;
  for (let i = 0; i < spec.events; i++) {
    ms[i] = Math.floor(start + (i + rand()) * step);
    type[i] = Math.floor(rand() * spec.types);
  }
  return { spec, ms, user, type };
}

function coprimeStride(n: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let s = Math.floor(n * 0.618) | 1;
  while (gcd(s, n) !== 1) s += 2;
  return s;
}

export const clienteName = (c: number) => `cliente_${String(c).padStart(3, '0')}`;
export const eventoName = (t: number) => `evento_${t}`;
export const usuarioName = (u: number) => `u${u}`;

/** A query of /api/v1/uniques: epoch ms bounds and an optional client or event type (indexes). */
export interface RangeQuery {
  label: string;
  from: number;
  to: number;
  cliente?: number;
  evento?: number;
}

/**
 * Exact distinct users of the events the store places in the range. A bucket belongs to a range by
 * its start, and old events are kept in hour or day buckets (`bucketStart` says which, from the
 * retention cutoffs): an event counts when its bucket starts in [from, to), as the store counts it.
 */
export class ExactCounter {
  private readonly stamp: Uint32Array;
  private gen = 0;

  constructor(
    private readonly data: Data,
    private readonly bucketStart: (ms: number) => number,
  ) {
    this.stamp = new Uint32Array(data.spec.users);
  }

  count(q: RangeQuery): number {
    const { ms, user, type } = this.data;
    const clients = this.data.spec.clients;
    this.gen++;
    let n = 0;
    // Events are in time order, and a bucket (at most a day) starts at or before its events: an
    // event a day before `from` or a day after `to` cannot be in a bucket that starts in range.
    let i = lowerBound(ms, q.from - 86_400_000);
    for (; i < ms.length; i++) {
      const t = ms[i]!;
      if (t >= q.to + 86_400_000) break;
      const b = this.bucketStart(t);
      if (b < q.from || b >= q.to) continue;
      const u = user[i]!;
      if (q.cliente !== undefined && u % clients !== q.cliente) continue;
      if (q.evento !== undefined && type[i] !== q.evento) continue;
      if (this.stamp[u] !== this.gen) {
        this.stamp[u] = this.gen;
        n++;
      }
    }
    return n;
  }
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
