// `warren alerts deliver`: POSTs every firing and resolution. (Being built: see the alerts issue.)
import { type CommandContext, usageError } from '../command.js';

export async function runDeliver(_ctx: CommandContext): Promise<number> {
  throw usageError('warren alerts deliver is not available in this build');
}
