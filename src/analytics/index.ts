// The analytics part's door: other parts and the tests import from here only.
export type { ApiDeps, QueueStatus } from './api.js';
export { buildApi } from './api.js';
export { DOCS_PREFIX } from './docs.js';
export * from './shapes.js';
