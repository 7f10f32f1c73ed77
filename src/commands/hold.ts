// What both replays share (`warren replay`, `warren dlq replay`): the store's dedupe horizon, read
// with pruning held, so an event older than it (whose id may be forgotten) is left alone rather
// than counted twice, and what the replay checked stays true while analytics counts.
import { existsSync } from 'node:fs';
import { usageError } from '../command.js';
import type { Config } from '../config.js';
import { createStore, type DedupeHorizon, maintenanceOf } from '../store/index.js';

/**
 * How long after a replay the store keeps every id (pruning of ids is held), so the consumer has
 * that long to count what the replay published before any id it relied on could be forgotten.
 */
export const HOLD_S = 86_400;

export const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** Reads the dedupe horizon of the store at DATABASE_URL and holds its pruning for HOLD_S. */
export async function holdStore(config: Config, command: string): Promise<DedupeHorizon> {
  const url = config.databaseUrl;
  // Fail closed: a replay pointed at the wrong (new, empty) store would replay everything.
  if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length)))
    throw usageError(
      `no store at DATABASE_URL=${url}: ${command} reads analytics' store to skip events whose ids it may have forgotten; set DATABASE_URL as analytics has it, or give --force to replay every event`,
    );
  const store = createStore(url);
  try {
    await store.migrate();
    return await maintenanceOf(store).holdPruning(Math.floor(Date.now() / 1000) + HOLD_S);
  } finally {
    await store.close();
  }
}

/** The horizon a replay skips events before: none when forced or when the store is empty. */
export function skipBefore(h: DedupeHorizon | undefined): number | undefined {
  return h && !h.empty ? h.horizon : undefined;
}
