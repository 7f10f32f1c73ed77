// The one-shot commands' door. Each is loaded only when it runs, so `warren keys` does not load
// the store nor `warren topology` the audit files.
import type { CommandSpec } from '../command.js';

type Loader = () => Promise<CommandSpec>;

export const commands = {
  dlq: async () => (await import('./dlq.js')).command,
  export: async () => (await import('./export.js')).command,
  keys: async () => (await import('./keys.js')).command,
  prune: async () => (await import('./prune.js')).command,
  reconcile: async () => (await import('./reconcile.js')).command,
  replay: async () => (await import('./replay.js')).command,
  topology: async () => (await import('./topology.js')).command,
} satisfies Record<string, Loader>;
