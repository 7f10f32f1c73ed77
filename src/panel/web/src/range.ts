// Time ranges and their buckets. A range starts on a bucket boundary, so the report's total and
// the chart's sum cover the same buckets (CONTRACT.md: a bucket belongs to a range by its start).

export type RangeKey = '15m' | '1h' | '24h' | '7d';
export const RANGES: readonly RangeKey[] = ['15m', '1h', '24h', '7d'];

interface RangeSpec {
  bucket: 'minute' | 'hour';
  bucketS: number;
  buckets: number;
}

const SPECS: Record<RangeKey, RangeSpec> = {
  '15m': { bucket: 'minute', bucketS: 60, buckets: 15 },
  '1h': { bucket: 'minute', bucketS: 60, buckets: 60 },
  '24h': { bucket: 'hour', bucketS: 3600, buckets: 24 },
  '7d': { bucket: 'hour', bucketS: 3600, buckets: 168 },
};

export interface Range extends RangeSpec {
  key: RangeKey;
  /** Start of the first bucket, epoch seconds. */
  fromS: number;
  /** Start of the current bucket, epoch seconds. */
  lastS: number;
  fromIso: string;
}

export function isRange(v: string | null | undefined): v is RangeKey {
  return RANGES.includes(v as RangeKey);
}

export function rangeAt(key: RangeKey, nowMs: number): Range {
  const spec = SPECS[key];
  const lastS = Math.floor(nowMs / 1000 / spec.bucketS) * spec.bucketS;
  const fromS = lastS - (spec.buckets - 1) * spec.bucketS;
  return { ...spec, key, fromS, lastS, fromIso: new Date(fromS * 1000).toISOString() };
}

/** One value per bucket of the range (zeros where nothing was counted), then any later buckets. */
export function fillSeries(points: { t: string; count: number }[], range: Range): [number[], number[]] {
  const counts = new Map<number, number>();
  for (const p of points) {
    const s = Math.floor(Date.parse(p.t) / 1000);
    counts.set(s, (counts.get(s) ?? 0) + p.count);
  }
  return fill(counts, range);
}

/**
 * Distinct users per bucket on the buckets the events line has (`xs`): zero where none came. A
 * bucket's users are never summed with another's (the same user may be in both), so a point
 * outside `xs` is left out rather than folded in.
 */
export function alignUsers(points: { t: string; usuarios: number }[], xs: number[]): number[] {
  const users = new Map<number, number>();
  for (const p of points) users.set(Math.floor(Date.parse(p.t) / 1000), p.usuarios);
  return xs.map((x) => users.get(x) ?? 0);
}

function fill(counts: Map<number, number>, range: Range): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let s = range.fromS; s <= range.lastS; s += range.bucketS) {
    xs.push(s);
    ys.push(counts.get(s) ?? 0);
    counts.delete(s);
  }
  // Events stamped ahead of this clock still count in the total; show them too.
  for (const s of [...counts.keys()].filter((k) => k > range.lastS).sort((a, b) => a - b)) {
    xs.push(s);
    ys.push(counts.get(s) ?? 0);
  }
  return [xs, ys];
}
