// `warren replay FILE|DIR…`: publishes the events of audit files again, with their ids. Counted at
// most once however often it runs: events older than the store's dedupe horizon (ids that
// pruning may have forgotten) are skipped and reported, unless the store is empty or --force.
import { existsSync } from 'node:fs';
import { expand, replayFiles } from '../audit/index.js';
import { type CommandSpec, usageError } from '../command.js';
import type { Config } from '../config.js';
import { describe } from '../errors.js';
import { createStore, type DedupeHorizon, maintenanceOf } from '../store/index.js';

/**
 * How long after a replay the store keeps every id (pruning of ids is held), so the consumer has
 * that long to count what the replay published before any id it relied on could be forgotten.
 */
export const HOLD_S = 86_400;

const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** Reads the dedupe horizon of the store at DATABASE_URL and holds its pruning for HOLD_S. */
async function holdStore(config: Config): Promise<DedupeHorizon> {
  const url = config.databaseUrl;
  // Fail closed: a replay pointed at the wrong (new, empty) store would replay everything.
  if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length)))
    throw usageError(
      `no store at DATABASE_URL=${url}: replay reads analytics' store to skip events whose ids it may have forgotten; set DATABASE_URL as analytics has it, or give --force to replay every event`,
    );
  const store = createStore(url);
  try {
    await store.migrate();
    return await maintenanceOf(store).holdPruning(Math.floor(Date.now() / 1000) + HOLD_S);
  } finally {
    await store.close();
  }
}

export const command: CommandSpec = {
  summary: 'republish the events of audit files (counted at most once, thanks to their ids)',
  usage: 'warren replay [--force] FILE|DIR [FILE|DIR …]',
  options: { force: { type: 'boolean' } },
  help: {
    force:
      "also replay events older than the store's dedupe horizon (their ids may be forgotten: they may be counted again)",
  },
  allowPositionals: true,
  async run({ config, log, positionals, values }) {
    if (positionals.length === 0)
      throw usageError(`give audit files or directories, e.g. ${config.auditDir}`);
    let files: string[];
    try {
      files = await expand(positionals);
    } catch (err) {
      throw usageError(`cannot read ${positionals.join(' ')}: ${describe(err)}`);
    }
    const force = values.force === true;
    const h = force ? undefined : await holdStore(config);
    const skipBefore = h && !h.empty ? h.horizon : undefined;
    log.info({ files: files.length, horizon: h?.horizon, empty: h?.empty, force }, 'replaying audit files');
    const counts = await replayFiles(config, log, files, (c) => log.info(c, 'progress'), { skipBefore });
    // Held again from the end: the consumer has HOLD_S to count the last events published. The
    // hold taken at the start stands if this fails.
    if (!force)
      await holdStore(config).catch((err) =>
        log.warn(
          { err: describe(err) },
          `could not renew the hold on pruning; it ends ${HOLD_S} s after the start`,
        ),
      );
    log.info(counts, 'replay done');
    if (counts.invalid || counts.unreadable)
      process.stderr.write(
        `skipped ${counts.invalid} invalid and ${counts.unreadable} unreadable lines (see LOG_LEVEL=debug)\n`,
      );
    if (counts.beforeHorizon)
      process.stderr.write(
        `skipped ${counts.beforeHorizon} events older than the dedupe horizon ${iso(skipBefore!)}: ` +
          'the store may have forgotten their ids and would count them again (--force replays them anyway)\n',
      );
    if (counts.withoutId)
      process.stderr.write(`${counts.withoutId} events had no id: each replay counts them again\n`);
    process.stdout.write(`${counts.confirmed} confirmed\n`);
    return 0;
  },
};
