// `warren alerts add|list|remove` (README "Alerts"): the rules, kept in the store (DATABASE_URL),
// validated as POST /api/v1/alerts validates them (alert-rule.ts). Running analytics processes
// pick a new rule up at their next evaluation (ALERT_EVAL_MS at most).
import type { ParseArgsConfig } from 'node:util';
import { ALERT_KINDS } from '../alert.js';
import {
  describeRule,
  newRule,
  publicRule,
  type RuleInput,
  ruleInputSchema,
  ruleProblems,
} from '../alert-rule.js';
import { type CommandContext, usageError } from '../command.js';
import { type Alerts, alertsOf, createStore, publicFiring } from '../store/index.js';

export const ruleOptions: NonNullable<ParseArgsConfig['options']> = {
  cliente: { type: 'string' },
  evento: { type: 'string' },
  minutes: { type: 'string' },
  above: { type: 'string' },
  below: { type: 'string' },
  valid: { type: 'boolean' },
  webhook: { type: 'string' },
  format: { type: 'string' },
  secret: { type: 'string' },
  json: { type: 'boolean' },
};

export const ruleHelp: Record<string, string> = {
  cliente: 'C: the client a silence or threshold rule watches',
  evento: 'E: the event (optional for silence, required for threshold)',
  minutes: 'N: the window in minutes (decimals allowed, e.g. 0.5)',
  above: 'X: threshold fires when the count goes above X; dead_letters when the DLQ holds more than X',
  below: 'X: threshold fires when the count goes below X',
  valid: 'dead_letters: fire while valid events are dead-lettered',
  webhook: 'URL: where the deliverer POSTs (http or https)',
  format: 'json (default) or slack',
  secret: 'S: the HMAC-SHA256 key of X-Warren-Signature (generated and shown once when absent)',
  json: 'list: print the rules and recent firings as JSON (the shape of GET /api/v1/alerts)',
};

const ADD_USAGE =
  'warren alerts add silence --cliente C [--evento E] --minutes N --webhook URL | add threshold --cliente C --evento E --minutes N (--above X | --below X) --webhook URL | add dead_letters (--above X | --valid) --webhook URL';

function number(values: CommandContext['values'], name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
    throw usageError(`--${name} must be a number; got ${JSON.stringify(v)}`);
  return n;
}

/** The options as the POST body would carry them; options a kind does not take are refused. */
function inputOf(kind: string, values: CommandContext['values']): RuleInput {
  const s = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const raw: Record<string, unknown> = {
    kind,
    cliente: s('cliente'),
    evento: s('evento'),
    minutes: number(values, 'minutes'),
    above: number(values, 'above'),
    below: number(values, 'below'),
    valid: values.valid === true ? true : undefined,
    webhook: s('webhook'),
    format: s('format'),
    secret: s('secret'),
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return raw as RuleInput;
}

async function withAlerts<T>(ctx: CommandContext, fn: (a: Alerts) => Promise<T>): Promise<T> {
  const store = createStore(ctx.config.databaseUrl);
  try {
    await store.migrate();
    const a = alertsOf(store);
    if (!a) throw new Error('this store keeps no alert rules');
    return await fn(a);
  } finally {
    await store.close();
  }
}

async function add(ctx: CommandContext): Promise<number> {
  const [kind, ...extra] = ctx.positionals;
  if (!kind || !(ALERT_KINDS as readonly string[]).includes(kind) || extra.length > 0)
    throw usageError(`usage: ${ADD_USAGE}`);
  if (ctx.values.json) throw usageError('--json is for warren alerts list');
  const parsed = ruleInputSchema.safeParse(inputOf(kind, ctx.values));
  if (!parsed.success) {
    const why = ruleProblems(parsed.error).map((p) => `${p.field}: ${p.rule}`);
    throw usageError(`bad rule: ${why.join('; ')}; usage: ${ADD_USAGE}`);
  }
  const rule = newRule(parsed.data, Date.now());
  await withAlerts(ctx, (a) => a.addRule(rule));
  process.stdout.write(`${rule.id}\n`);
  process.stderr.write(
    `warren alerts: added ${rule.id} (${describeRule(rule)}) → ${publicRule(rule).webhook}\n` +
      `warren alerts: signing secret (shown only now): ${rule.secret}\n`,
  );
  return 0;
}

async function list(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length > 0) throw usageError('usage: warren alerts list [--json]');
  const { rules, firings } = await withAlerts(ctx, async (a) => ({
    rules: await a.rules(),
    firings: await a.firings(100),
  }));
  if (ctx.values.json) {
    const out = {
      rules: rules.map(publicRule),
      firings: firings.map(publicFiring),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  for (const r of rules) {
    const p = publicRule(r);
    const state = p.since ? `firing since ${p.since}` : 'ok';
    process.stdout.write(`${r.id}\t${r.kind}\t${describeRule(r)}\t${state}\t${p.webhook}\n`);
  }
  if (rules.length === 0) process.stderr.write('warren alerts: no rules; add one with warren alerts add\n');
  return 0;
}

async function remove(ctx: CommandContext): Promise<number> {
  const [id, ...extra] = ctx.positionals;
  if (!id || extra.length > 0 || ctx.values.json) throw usageError('usage: warren alerts remove ID');
  const removed = await withAlerts(ctx, (a) => a.removeRule(id));
  if (!removed) {
    process.stderr.write(`warren alerts: there is no rule ${id}; see warren alerts list\n`);
    return 1;
  }
  process.stderr.write(`warren alerts: removed ${id}\n`);
  return 0;
}

export async function runRules(sub: 'add' | 'list' | 'remove', ctx: CommandContext): Promise<number> {
  if (sub !== 'add') {
    for (const k of Object.keys(ruleOptions))
      if (k !== 'json' && ctx.values[k] !== undefined) throw usageError(`--${k} is for warren alerts add`);
  }
  if (sub === 'add') return add(ctx);
  if (sub === 'list') return list(ctx);
  return remove(ctx);
}
