// The kept day unions of one store object (uniques-days.ts says when one may be used): per key (a
// filter and a UTC day), the union of the day's sketches per group (one per client, or one for
// all under ''), with the day's event count it was read at. Bounded in bytes: past the budget the
// least recently used go first.
import type { Sketch } from './hll.js';

/** A day's sketches per group: per cliente, or all of them under ''. */
export type Groups = Map<string, Sketch>;

/** Bytes of kept unions per store object (a dense sketch is 16 KB in memory). */
const MAX_BYTES = 32 * 1024 * 1024;

interface Entry {
  count: number;
  groups: Groups;
  bytes: number;
}

/** Rough bytes a day's groups hold: a map entry each, a sparse sketch's hashes, a dense one's registers. */
function bytesOf(groups: Groups): number {
  let n = 64;
  for (const [k, s] of groups) n += 64 + k.length * 2 + (s.sparse ? s.estimate() * 16 : 16_500);
  return n;
}

export class DayUnions {
  constructor(private readonly maxBytes = MAX_BYTES) {}

  private readonly entries = new Map<string, Entry>();
  /** Rough bytes held (maxBytes at most). */
  bytes = 0;
  hits = 0;
  misses = 0;

  get size(): number {
    return this.entries.size;
  }

  /** The groups kept for key, when they were read at this count; the caller must not change them. */
  get(key: string, count: number): Groups | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.count !== count) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.groups;
  }

  set(key: string, count: number, groups: Groups): void {
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    const bytes = bytesOf(groups);
    this.entries.set(key, { count, groups, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }
}
