// The fault suite's knobs: CHAOS_SCALE shrinks every size (1 = the full sizes RELIABILITY.md
// reports; 0.05 runs the same faults on small streams in a few minutes) and CHAOS_SEED fixes the
// random moments at which faults land, so a failing run can be replayed with the same choices.
import { randomInt } from 'node:crypto';

function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 10) {
    throw new Error(`CHAOS_SCALE must be a number in (0, 10], e.g. 0.05; got ${JSON.stringify(raw)}`);
  }
  return n;
}

export const SCALE = parseScale(process.env.CHAOS_SCALE);
export const SEED =
  process.env.CHAOS_SEED === undefined || process.env.CHAOS_SEED === ''
    ? randomInt(1, 2 ** 31)
    : Number(process.env.CHAOS_SEED);

/**
 * Users per client: every event of the suite carries a usuario, one of this many per client,
 * derived from its id (usuarioFor), so the confirmed ids say exactly which users were counted.
 * Under 2,500, where the sketches are exact.
 */
export const USERS = 400;

/** A full-scale size scaled by CHAOS_SCALE, never below `min`. */
export function size(full: number, min: number): number {
  return Math.max(min, Math.round(full * SCALE));
}

// mulberry32: a tiny seeded generator; Math.random cannot be replayed.
let state = SEED >>> 0;
export function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A whole number of milliseconds in [lo, hi). */
export function between(lo: number, hi: number): number {
  return Math.floor(lo + random() * (hi - lo));
}
