// `warren bench --repeat N`: every stage runs N times and each figure is reported as its median,
// with min and max beside it. Figures are combined key by key (the same shape as one run), so a
// stage's new figures are covered without naming them here; a figure a run did not produce (a
// failed stage: null) is left out of that figure's median.
import { fmt } from './util.js';

type Pick = (values: number[]) => number;

export const median: Pick = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export const min: Pick = (values) => Math.min(...values);
export const max: Pick = (values) => Math.max(...values);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Combines values of the same shape: numbers with pick (finite ones only), arrays index by index,
 * objects key by key; anything else (strings, dates, booleans) is the first run's.
 */
export function combine<T>(values: T[], pick: Pick): T {
  const present = values.filter((v) => v !== undefined && v !== null);
  const first = present[0];
  if (first === undefined) return values[0] as T;
  if (typeof first === 'number') {
    const nums = present.filter((v): v is T & number => typeof v === 'number' && Number.isFinite(v));
    return (nums.length ? pick(nums) : first) as T;
  }
  if (Array.isArray(first))
    return first.map((_, i) =>
      combine(
        present.map((v) => (v as unknown[])[i]),
        pick,
      ),
    ) as T;
  if (isRecord(first)) {
    const keys = new Set(present.flatMap((v) => Object.keys(v as object)));
    const out: Record<string, unknown> = {};
    for (const k of keys)
      out[k] = combine(
        present.map((v) => (v as Record<string, unknown>)[k]),
        pick,
      );
    return out as T;
  }
  return first;
}

/** Keys of the JSON that are not figures of the run (combined separately or not at all). */
const NOT_FIGURES = new Set(['machine', 'settings', 'details', 'errors', 'started_at', 'duration_s']);

/** The figures of one run's JSON: every key but the machine, settings, details and errors. */
export function figures(json: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(json).filter(([k]) => !NOT_FIGURES.has(k)));
}

/**
 * The JSON of N runs: the medians under the same keys as one run's (details included), `repeat`,
 * `min` and `max` of every figure, and `runs`, each run's own JSON (without machine and settings).
 */
export function repeatedJson(runs: Record<string, unknown>[]): Record<string, unknown> {
  const med = combine(runs, median);
  return {
    ...med,
    errors: runs.flatMap((r, i) =>
      (r.errors as { stage: string; message: string }[]).map((e) => ({ ...e, run: i + 1 })),
    ),
    // Each run's duration counts from the start of the whole run: the last is the total.
    duration_s: combine(
      runs.map((r) => r.duration_s),
      max,
    ),
    repeat: runs.length,
    min: combine(runs.map(figures), min),
    max: combine(runs.map(figures), max),
    runs: runs.map(({ machine: _m, settings: _s, ...rest }) => rest),
  };
}

/** Numeric leaves of an object as [dotted key, value], in order (latency_ms.p99, …). */
function leaves(o: Record<string, unknown>, prefix = ''): [string, number | null][] {
  const out: [string, number | null][] = [];
  for (const [k, v] of Object.entries(o)) {
    if (isRecord(v)) out.push(...leaves(v, `${prefix}${k}.`));
    else if (typeof v === 'number' || v === null) out.push([`${prefix}${k}`, v]);
  }
  return out;
}

/** The table of every figure's min, median and max over the runs (printed after the main table). */
export function spreadTable(json: Record<string, unknown>): string {
  const { repeat, min: lo, max: hi, runs: _runs, ...medians } = figures(json);
  const low = new Map(leaves(lo as Record<string, unknown>));
  const high = new Map(leaves(hi as Record<string, unknown>));
  // Stages not run leave their figures null: no row.
  const rows = leaves(medians)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => [k, fmt(low.get(k), 1), fmt(v, 1), fmt(high.get(k), 1)] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length), 6);
  const w = Math.max(...rows.flatMap((r) => r.slice(1).map((c) => c.length)), 6);
  const line = (a: string, b: string, c: string, d: string) =>
    `${a.padEnd(w0)}  ${b.padStart(w)}  ${c.padStart(w)}  ${d.padStart(w)}`;
  const lines = ['', `every figure over ${String(repeat)} runs`, line('figure', 'min', 'median', 'max')];
  for (const r of rows) lines.push(line(...r));
  return `${lines.join('\n')}\n`;
}
