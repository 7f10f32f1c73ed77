// The analytics part's door: the consuming service and its command, the HTTP API and its answers'
// schemas (shapes.ts), and the query parsing and export format that the one-shot commands share
// with the HTTP API. Other parts and the tests import from here only.
export type { ApiDeps, QueueStatus } from './api.js';
export { buildApi } from './api.js';
export { command } from './command.js';
export { DOCS_PREFIX } from './docs.js';
export {
  type ExportFormat,
  type ExportKind,
  formatExport,
  formatUniquesExport,
} from './export-format.js';
export { parseBucket, parseExportKind, parseFilter } from './query.js';
export { type Analytics, build } from './service.js';
export * from './shapes.js';
