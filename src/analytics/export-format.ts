// The export's lines, written once: GET /api/v1/export and `warren export` stream the same bytes.
// Two kinds: `counts` (the counters, one line per cliente, evento and bucket) and `uniques` (the
// distinct users, one line per cliente and bucket). Users are a line of their own, not a column
// beside each count: a user who did two event types is one user of the client, so per-event
// users would not add up to the client's, and a column next to counts invites that sum.
import type { ExportRow, UniquesExportRow } from '../store/index.js';
import { iso } from './query.js';

export type ExportFormat = 'ndjson' | 'csv';
export type ExportKind = 'counts' | 'uniques';
export const EXPORT_KINDS: readonly ExportKind[] = ['counts', 'uniques'];

/** Joins lines into chunks of about 64 KB, never holding all the rows. */
async function* chunked<R>(
  rows: AsyncIterable<R>,
  header: string | undefined,
  line: (r: R) => string,
  onRow?: (row: R) => void,
): AsyncGenerator<string> {
  if (header !== undefined) yield header;
  let chunk = '';
  for await (const r of rows) {
    onRow?.(r);
    chunk += line(r);
    if (chunk.length > 64_000) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Formats counter rows as NDJSON or CSV. */
export function formatExport(
  rows: AsyncIterable<ExportRow>,
  format: ExportFormat,
  onRow?: (row: ExportRow) => void,
): AsyncGenerator<string> {
  // Names follow the event contract (no commas or quotes), so CSV needs no quoting.
  const line =
    format === 'csv'
      ? (r: ExportRow) => `${r.cliente},${r.evento},${iso(Number(r.t))},${Number(r.count)}\n`
      : (r: ExportRow) =>
          `${JSON.stringify({ cliente: r.cliente, evento: r.evento, t: iso(Number(r.t)), count: Number(r.count) })}\n`;
  return chunked(rows, format === 'csv' ? 'cliente,evento,t,count\n' : undefined, line, onRow);
}

/** Formats users rows (distinct users per cliente and bucket) as NDJSON or CSV. */
export function formatUniquesExport(
  rows: AsyncIterable<UniquesExportRow>,
  format: ExportFormat,
  onRow?: (row: UniquesExportRow) => void,
): AsyncGenerator<string> {
  const line =
    format === 'csv'
      ? (r: UniquesExportRow) => `${r.cliente},${iso(r.t)},${r.usuarios}\n`
      : (r: UniquesExportRow) =>
          `${JSON.stringify({ cliente: r.cliente, t: iso(r.t), usuarios: r.usuarios })}\n`;
  return chunked(rows, format === 'csv' ? 'cliente,t,usuarios\n' : undefined, line, onRow);
}
