// `warren replay FILE|DIR…`: publishes the events of audit files again, with their ids. Counted at
// most once however often it runs: events older than the store's dedupe horizon (ids that
// pruning may have forgotten) are skipped and reported, unless the store is empty or --force.
import { expand, replayFiles } from '../audit/index.js';
import { type CommandSpec, usageError } from '../command.js';
import { describe } from '../errors.js';
import { HOLD_S, holdStore, skipBefore as horizonOf, iso } from './hold.js';

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
    const h = force ? undefined : await holdStore(config, 'replay');
    const skipBefore = horizonOf(h);
    log.info({ files: files.length, horizon: h?.horizon, empty: h?.empty, force }, 'replaying audit files');
    const counts = await replayFiles(config, log, files, (c) => log.info(c, 'progress'), { skipBefore });
    // Held again from the end: the consumer has HOLD_S to count the last events published. The
    // hold taken at the start stands if this fails.
    if (!force)
      await holdStore(config, 'replay').catch((err) =>
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
