// GET /api/v1/export (CONTRACT.md, "Analytics"): NDJSON or CSV, streamed from the store; the
// counters, or the users with kind=uniques. Bounded like the reports, and for the same reason: an
// export holds a read connection for as long as it streams (SQLite: a read snapshot, which keeps
// the WAL from being checkpointed; PostgreSQL: a connection of the store's pool, which the commits
// need). So at most EXPORT_CONCURRENCY stream at once and the next one is 503 with Retry-After; a
// slot comes back when its export ends, when its client goes away, and when its client takes
// nothing for READ_TIMEOUT_MS (a reader that stopped reading would otherwise hold it for good).
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WarrenError } from '../errors.js';
import type { Store } from '../store/index.js';
import { documentOnly, routeSchemas } from './docs.js';
import { formatExport, formatUniquesExport } from './export-format.js';
import { parseBucket, parseExportKind, parseFilter } from './query.js';

export interface ExportOptions {
  /** EXPORT_CONCURRENCY: exports streamed at once; past it, 503. */
  concurrency: number;
  /** READ_TIMEOUT_MS: how long an export waits for its reader to take more before it is ended. */
  stallMs: number;
}

export const DEFAULT_EXPORTS: ExportOptions = { concurrency: 2, stallMs: 30_000 };

/** Of the store's pool of 4 (store/postgres.ts), exports leave the commits at least one. */
const POSTGRES_MAX_EXPORTS = 3;

/** Exports streaming now, against their bound. */
class ExportSlots {
  private open = 0;

  /** Takes a slot, or throws 503 overloaded; the returned function gives it back (once). */
  take(max: number): () => void {
    if (this.open >= max) {
      throw new WarrenError(
        'overloaded',
        `Too many exports are streaming (${max} at once); retry in a few seconds, or raise EXPORT_CONCURRENCY.`,
        // Exports take seconds to minutes: a second later the slot is most likely still taken.
        { status: 503, retryAfterS: 5 },
      );
    }
    this.open++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.open--;
    };
  }
}

/**
 * The export's chunks as a stream that ends itself with an error once a chunk waits `stallMs` for
 * the reader to ask for more: the time counts only while the reader is the one holding things up,
 * never while the store computes the next rows.
 */
function stallGuarded(chunks: AsyncIterable<string>, stallMs: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  async function* guarded(): AsyncGenerator<string> {
    try {
      for await (const chunk of chunks) {
        timer = setTimeout(() => stream.destroy(stalled(stallMs)), stallMs);
        yield chunk;
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  const stream = Readable.from(guarded());
  return stream;
}

function stalled(stallMs: number): WarrenError {
  return new WarrenError(
    'read_timeout',
    `The export's reader took nothing for READ_TIMEOUT_MS (${stallMs} ms); the export was ended.`,
    { status: 503 },
  );
}

export function installExport(
  app: FastifyInstance,
  store: () => Store,
  opts: ExportOptions = DEFAULT_EXPORTS,
): void {
  const slots = new ExportSlots();
  app.get('/api/v1/export', { schema: routeSchemas.export, ...documentOnly }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const filter = parseFilter(q);
    const bucket = parseBucket(q, 'minute');
    const kind = parseExportKind(q);
    const format = (q.format as string | undefined) ?? 'ndjson';
    if (format !== 'ndjson' && format !== 'csv') {
      throw new WarrenError('invalid_query', 'The query parameter "format" must be ndjson or csv.', {
        status: 400,
        details: [{ field: 'format', rule: 'ndjson or csv', value: String(format).slice(0, 80) }],
      });
    }
    const s = store();
    const max = s.kind === 'postgres' ? Math.min(opts.concurrency, POSTGRES_MAX_EXPORTS) : opts.concurrency;
    const giveBack = slots.take(max);
    const lines =
      kind === 'uniques'
        ? formatUniquesExport(s.exportUniques(filter, bucket), format)
        : formatExport(s.exportRows(filter, bucket), format);
    const stream = stallGuarded(lines, opts.stallMs);
    // 'close' comes once the rows' iterator has been closed (its connection released), however
    // the stream ended: all sent, an error, or destroyed because the response closed early.
    stream.once('close', giveBack);
    reply.raw.once('close', () => stream.destroy());
    reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    return reply.send(stream);
  });
}
