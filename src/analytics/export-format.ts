// The export's lines, written once: GET /api/v1/export and `warren export` stream the same bytes.
import type { ExportRow } from '../store/index.js';
import { iso } from './query.js';

export type ExportFormat = 'ndjson' | 'csv';

/** Formats counter rows as NDJSON or CSV in chunks of about 64 KB, never holding them all. */
export async function* formatExport(
  rows: AsyncIterable<ExportRow>,
  format: ExportFormat,
  onRow?: (row: ExportRow) => void,
): AsyncGenerator<string> {
  if (format === 'csv') yield 'cliente,evento,t,count\n';
  let chunk = '';
  for await (const r of rows) {
    onRow?.(r);
    const t = iso(Number(r.t));
    // Names follow the event contract (no commas or quotes), so CSV needs no quoting.
    chunk +=
      format === 'csv'
        ? `${r.cliente},${r.evento},${t},${Number(r.count)}\n`
        : `${JSON.stringify({ cliente: r.cliente, evento: r.evento, t, count: Number(r.count) })}\n`;
    if (chunk.length > 64_000) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
