// `warren prune`: one retention pass by hand (the same pass analytics runs every
// RETENTION_INTERVAL_S): forgets ids older than the dedupe window, rolls old minute counters into
// hours and old hours into days. Safe while analytics runs on the same store. What it did goes to
// stdout, progress to stderr.
import type { CommandSpec } from '../command.js';
import { createStore, maintenanceOf, type PassResult, type Progress, retentionPass } from '../store/index.js';
import { ProgressLine, thousands } from './progress.js';

const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

const STEP = {
  ids: 'forgetting old ids',
  minute: 'rolling minutes into hours',
  hour: 'rolling hours into days',
} as const;

function summary(r: PassResult, sizes: Record<string, number>, horizon: number | undefined): string {
  if (r.skipped)
    return 'skipped: another process holds the retention lock (a pass is running); try again later\n';
  const c = r.cutoffs!;
  const rows = Object.entries(sizes)
    .map(([k, v]) => `${k} ${thousands(v)}`)
    .join(', ');
  return [
    `retention pass at ${iso(r.now)} took ${r.ms} ms${r.aborted ? ' (stopped early; run it again to finish)' : ''}`,
    `ids forgotten:                 ${thousands(r.idsPruned)} (remembered from before ${iso(c.ids)})`,
    `minute rows rolled into hours: ${thousands(r.minuteRows)} (buckets before ${iso(c.minute)})`,
    `hour rows rolled into days:    ${thousands(r.hourRows)} (buckets before ${iso(c.hour)})`,
    `dedupe horizon:                ${horizon === undefined ? 'none (no id forgotten yet)' : `${iso(horizon)} (warren replay skips events before it)`}`,
    `rows now: ${rows}`,
    '',
  ].join('\n');
}

export const command: CommandSpec = {
  summary: 'run one retention pass now: forget old ids, roll minutes into hours and hours into days',
  usage: 'warren prune [--json]',
  options: { json: { type: 'boolean' } },
  help: { json: 'print the result as one JSON object instead of text' },
  async run({ config, values, stopSignal }) {
    const store = createStore(config.databaseUrl);
    try {
      await store.migrate();
      const abort = new AbortController();
      void stopSignal.then(() => abort.abort());
      const progress = new ProgressLine('prune');
      const onProgress = (p: Progress) => {
        const at = p.bucket === undefined ? '' : ` (at ${iso(p.bucket)})`;
        progress.update(`${STEP[p.step]}: ${thousands(p.rows)} rows${at}`);
      };
      const r = await retentionPass(store, config, { signal: abort.signal, onProgress });
      const m = maintenanceOf(store);
      const sizes = await m.sizes();
      const { horizon } = await m.horizon();
      progress.done(r.skipped ? 'skipped' : 'done');
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ ...r, rows: sizes, horizon: horizon ?? null })}\n`
          : summary(r, sizes, horizon),
      );
      return r.aborted ? 1 : 0;
    } finally {
      await store.close();
    }
  },
};
