// The audit part's door: the audit log (`warren audit`), its replay, and the dead letters.
export { command } from './command.js';
export {
  type DeadLetter,
  DeadLetterCensus,
  type Held,
  type ReplayResult,
  release,
  replay,
  scan,
  select,
} from './deadletters.js';
export { expand, replayFiles } from './replay.js';
export { type Audit, build } from './service.js';
