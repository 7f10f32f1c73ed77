// The stack's door: `warren up`, `warren ingest` with the snippet, and Traefik for the bench.
export { command } from './command.js';
export { ingestCommand } from './ingest.js';
export { type RunningTraefik, startTraefik, type TraefikOptions } from './traefik.js';
