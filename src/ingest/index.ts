// The ingest part's door: the HTTP gateway, its command, and the API keys file.
export type { ExtraRoutes } from './app.js';
export { ingestCommand } from './command.js';
export { addKey, type KeyRole, keyName, readKeysFile, revokeKeys } from './keys.js';
export { build, type Ingest, type IngestOptions } from './service.js';
