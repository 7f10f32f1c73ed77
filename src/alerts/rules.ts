// `warren alerts add|list|remove`: the rules, kept in the store. (Being built: see the alerts issue.)
import type { ParseArgsConfig } from 'node:util';
import { type CommandContext, usageError } from '../command.js';

export const ruleOptions: NonNullable<ParseArgsConfig['options']> = {};
export const ruleHelp: Record<string, string> = {};

export async function runRules(sub: 'add' | 'list' | 'remove', _ctx: CommandContext): Promise<number> {
  throw usageError(`warren alerts ${sub} is not available in this build`);
}
