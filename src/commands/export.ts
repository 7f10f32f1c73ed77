// `warren export`: the counters of a range, one line per (cliente, evento, bucket), or with
// `--kind uniques` the distinct users, one line per (cliente, bucket), to a file, in the same
// format as GET /api/v1/export. It reads the store at DATABASE_URL directly (SQLite
// read-only, or a PostgreSQL cursor): it works while analytics is stopped (backups, migrations),
// never loads the range in memory, and adds no load to the analytics HTTP server. A range goes to
// FILE.partial first and is renamed at the end, so FILE is never a truncated export.
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type ExportFormat,
  type ExportKind,
  formatExport,
  formatUniquesExport,
  parseBucket,
  parseExportKind,
  parseFilter,
} from '../analytics/index.js';
import { type CommandContext, type CommandSpec, usageError } from '../command.js';
import { WarrenError } from '../errors.js';
import { createStore, type Filter, maintenanceOf, type Store } from '../store/index.js';
import { bar, bytes, ProgressLine, thousands } from './progress.js';

function parse(values: CommandContext['values']) {
  const q: Record<string, unknown> = {};
  for (const k of ['from', 'to', 'cliente', 'evento', 'bucket', 'kind']) q[k] = values[k];
  try {
    const filter = parseFilter(q);
    const bucket = parseBucket(q, 'minute');
    const kind: ExportKind = parseExportKind(q);
    const format = (values.format ?? 'ndjson') as string;
    if (format !== 'ndjson' && format !== 'csv') throw usageError('--format must be ndjson or csv');
    const out = values.out;
    if (typeof out !== 'string' || !out)
      throw usageError('--out FILE is required (--out - writes to stdout)');
    return { filter, bucket, kind, format: format as ExportFormat, out };
  } catch (err) {
    // The API's query rules, turned into command-line wording.
    if (err instanceof WarrenError && err.code === 'invalid_query') {
      throw usageError(err.message.replace('The query parameter "', '--').replace('" is', ' is'));
    }
    throw err;
  }
}

function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (!existsSync(path)) {
      throw new WarrenError(
        'config',
        `DATABASE_URL=${databaseUrl}: no store there; run analytics once to create it, or point DATABASE_URL at it`,
      );
    }
    return createStore(databaseUrl, { readonly: true });
  }
  return createStore(databaseUrl);
}

/** Progress as the share of the time span done: rows come ordered by bucket. */
async function progressFor(store: Store, filter: Filter) {
  const span = await maintenanceOf(store).span(filter);
  const lo = Math.max(span?.min ?? 0, filter.from ?? Number.NEGATIVE_INFINITY);
  const hi = Math.min(span?.max ?? 0, (filter.to ?? Number.POSITIVE_INFINITY) - 1);
  const line = new ProgressLine('export');
  let rows = 0;
  let events = 0;
  let t = lo;
  const text = (size: number) =>
    `${bar(hi > lo ? (t - lo) / (hi - lo) : 1)} ${thousands(rows)} rows, ${events > 0 ? `${thousands(events)} events, ` : ''}${bytes(size)}`;
  return {
    /** Users rows have no count: their events stay 0 and the summary leaves them out. */
    onRow: (r: { t: number; count?: number }) => {
      rows++;
      events += Number(r.count ?? 0);
      t = Number(r.t);
    },
    show: (size: number) => line.update(text(size)),
    done: (size: number) => {
      t = hi;
      line.done(text(size));
    },
    totals: () => ({ rows, events }),
  };
}

async function write(
  chunks: AsyncIterable<string>,
  out: string,
  onBytes: (n: number) => void,
): Promise<number> {
  let size = 0;
  const counted = Readable.from(
    (async function* () {
      for await (const c of chunks) {
        size += Buffer.byteLength(c);
        onBytes(size);
        yield c;
      }
    })(),
  );
  if (out === '-') {
    await pipeline(counted, process.stdout as Writable, { end: false });
    return size;
  }
  const partial = `${out}.partial`;
  try {
    await pipeline(counted, createWriteStream(partial));
    await rename(partial, out);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return size;
}

export const command: CommandSpec = {
  summary: 'write counters of a range to a file (NDJSON or CSV), the same as GET /api/v1/export',
  usage:
    'warren export --out FILE [--from T] [--to T] [--bucket minute|hour|day] [--format ndjson|csv] [--kind counts|uniques] [--cliente C] [--evento E]',
  options: {
    out: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    bucket: { type: 'string' },
    format: { type: 'string' },
    cliente: { type: 'string' },
    evento: { type: 'string' },
    kind: { type: 'string' },
  },
  help: {
    out: 'the file to write (- for stdout); written as FILE.partial, renamed when complete',
    from: 'start, inclusive (RFC 3339, e.g. 2025-04-13T00:00:00Z); a bucket belongs by its start',
    to: 'end, exclusive (RFC 3339); default: all time',
    bucket: 'minute (default), hour or day',
    format: 'ndjson (default) or csv (header cliente,evento,t,count)',
    cliente: 'only this client',
    evento: 'only this event type',
    kind: 'counts (default): the counters; uniques: distinct users per client and bucket (header cliente,t,usuarios)',
  },
  async run({ config, values }) {
    const { filter, bucket, kind, format, out } = parse(values);
    const store = openStore(config.databaseUrl);
    try {
      const progress = await progressFor(store, filter);
      const chunks =
        kind === 'uniques'
          ? formatUniquesExport(store.exportUniques(filter, bucket), format, progress.onRow)
          : formatExport(store.exportRows(filter, bucket), format, progress.onRow);
      const size = await write(chunks, out, progress.show);
      progress.done(size);
      const { rows, events } = progress.totals();
      const what = kind === 'uniques' ? 'users per client and bucket' : `${thousands(events)} events`;
      const line = `wrote ${thousands(rows)} rows (${what}, ${bytes(size)}) to ${out === '-' ? 'stdout' : out}\n`;
      // With --out -, stdout is the export itself.
      (out === '-' ? process.stderr : process.stdout).write(line);
      return 0;
    } finally {
      await store.close();
    }
  },
};
