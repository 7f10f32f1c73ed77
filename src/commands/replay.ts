// `warren replay FILE|DIR…`: publishes the events of audit files again, with their ids.
import { expand, replayFiles } from '../audit/replay.js';
import { type CommandSpec, UsageError } from '../cli.js';
import { describe } from '../errors.js';

export const command: CommandSpec = {
  summary: 'republish the events of audit files (counted at most once, thanks to their ids)',
  usage: 'warren replay FILE|DIR [FILE|DIR …]',
  options: {},
  help: {},
  allowPositionals: true,
  async run({ config, log, positionals }) {
    if (positionals.length === 0)
      throw new UsageError(`give audit files or directories, e.g. ${config.auditDir}`);
    let files: string[];
    try {
      files = await expand(positionals);
    } catch (err) {
      throw new UsageError(`cannot read ${positionals.join(' ')}: ${describe(err)}`);
    }
    log.info({ files: files.length }, 'replaying audit files');
    const counts = await replayFiles(config, log, files, (c) => log.info(c, 'progress'));
    log.info(counts, 'replay done');
    if (counts.invalid || counts.unreadable)
      process.stderr.write(
        `skipped ${counts.invalid} invalid and ${counts.unreadable} unreadable lines (see LOG_LEVEL=debug)\n`,
      );
    if (counts.withoutId)
      process.stderr.write(`${counts.withoutId} events had no id: each replay counts them again\n`);
    process.stdout.write(`${counts.confirmed} confirmed\n`);
    return 0;
  },
};
