// The analytics part's door: the consuming service and its command, and the query parsing,
// export format that the one-shot commands share with the HTTP API.
export { command } from './command.js';
export { type ExportFormat, formatExport } from './export-format.js';
export { parseBucket, parseFilter } from './query.js';
export { type Analytics, build } from './service.js';
