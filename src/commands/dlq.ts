// `warren dlq list | replay`: see why events were dead-lettered, and send them back through the
// event contract once the cause is fixed (see src/audit/deadletters.ts for how nothing is lost).
import type { ChannelModel } from 'amqplib';
import {
  type DeadLetter,
  type Held,
  type ReplayResult,
  release,
  replay,
  scan,
  select,
} from '../audit/index.js';
import { amqp, redact } from '../broker/index.js';
import { type CommandContext, type CommandSpec, usageError } from '../command.js';
import { type Config, deadLetterNames } from '../config.js';
import { describe, WarrenError } from '../errors.js';
import { parseTimestamp } from '../event.js';
import { topicPrefix } from '../topic.js';
import { declare } from '../topology.js';
import { HOLD_S, holdStore, iso, skipBefore } from './hold.js';

/** One connection to the first node that answers, with the topology declared. */
export async function connectBroker(config: Config, name: string): Promise<ChannelModel> {
  let lastErr: unknown;
  for (const url of config.amqpUrls) {
    try {
      const conn = await amqp.connect(url, { clientProperties: { connection_name: name } });
      conn.on('error', () => undefined);
      const ch = await conn.createChannel();
      try {
        await declare(ch, config, { audit: config.audit });
      } finally {
        await ch.close().catch(() => undefined);
      }
      return conn;
    } catch (err) {
      lastErr = err;
      process.stderr.write(`warren: cannot use ${redact(url)}: ${describe(err)}\n`);
    }
  }
  throw new WarrenError(
    'broker_unavailable',
    `RabbitMQ is not usable (${describe(lastErr)}); start it with \`rabbitmq-server -detached\` or set AMQP_URL`,
  );
}

/** A publisher's string, printable: control characters escaped (no terminal escapes). */
function safe(v: string): string {
  return JSON.stringify(v).slice(1, -1);
}

function shownId(d: DeadLetter): string {
  return d.id === undefined ? '(none)' : safe(d.id);
}

export function kindOf(d: DeadLetter): string {
  return d.valid ? 'valid, replayable' : 'invalid';
}

function show(d: DeadLetter): string {
  const head = [
    `#${d.position}`,
    `id=${shownId(d)}`,
    `cliente=${d.cliente === undefined ? '(unreadable)' : safe(d.cliente)}`,
    `time=${d.time ?? '(unknown)'}`,
    `death=${d.death === undefined ? '(unknown)' : safe(d.death)}`,
    `[${kindOf(d)}]`,
  ].join('  ');
  return `${head}\n    reason: ${safe(d.reason)}\n    body:   ${safe(d.preview)}\n`;
}

/** The summary line of `dlq list`: valid (replayable) apart from invalid. */
export function summary(held: Held[], dlq: string): string {
  const valid = held.filter((h) => h.info.valid).length;
  return `${held.length} dead letters in ${dlq}: ${valid} valid, replayable (warren dlq replay --all); ${held.length - valid} invalid (left in place)\n`;
}

function limitOf(values: CommandContext['values']): number {
  const raw = values.limit;
  if (raw === undefined) return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--limit must be a whole number >= 1, got "${raw}"`);
  return n;
}

function targetsOf(held: Held[], values: CommandContext['values']): Held[] {
  const id = values.id as string | undefined;
  if (values.all === true && id !== undefined) throw usageError('give --all or --id, not both');
  if (values.all === true) return held;
  if (id === undefined)
    throw usageError('dlq replay needs --all or --id ID (an id, or a position from `dlq list`)');
  return select(held, id);
}

/**
 * Splits the targets at the dedupe horizon: a valid event older than it may have an id the store
 * has forgotten (it may have been counted before it was dead-lettered: a crash loop between
 * commit and ack), so replaying it could count it twice. Those stay in the DLQ unless --force.
 */
function atHorizon(targets: Held[], horizon: number | undefined): { go: Held[]; old: Held[] } {
  if (horizon === undefined) return { go: targets, old: [] };
  const old = targets.filter((h) => {
    const ms = h.info.eventTime === undefined ? undefined : parseTimestamp(h.info.eventTime);
    return h.info.valid && (ms === undefined || ms < horizon * 1000);
  });
  return { go: targets.filter((h) => !old.includes(h)), old };
}

function report(r: ReplayResult, json: boolean, old: DeadLetter[], horizon: number | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...r, beforeHorizon: old })}\n`);
    return;
  }
  for (const d of old)
    process.stdout.write(
      `#${d.position} id=${shownId(d)}: older than the dedupe horizon ${iso(horizon ?? 0)}, left in the DLQ: the store may have forgotten its id and would count it again (--force replays it anyway)\n`,
    );
  for (const d of r.replayed) process.stdout.write(`#${d.position} id=${shownId(d)}: replayed\n`);
  for (const d of r.invalid)
    process.stdout.write(
      `#${d.position} id=${shownId(d)}: still invalid, left in the DLQ: ${safe(d.reason)}\n`,
    );
  for (const d of r.unroutable)
    process.stdout.write(
      `#${d.position} id=${shownId(d)}: the exchange routed it nowhere; left in the DLQ\n`,
    );
  const skipped = old.length ? `, ${old.length} older than the dedupe horizon (left in the DLQ)` : '';
  process.stdout.write(
    `${r.replayed.length} replayed, ${r.invalid.length} still invalid, ${r.unroutable.length} unroutable${skipped}\n`,
  );
}

async function run({ config, log, values, positionals }: CommandContext): Promise<number> {
  const [sub, ...extra] = positionals;
  if ((sub !== 'list' && sub !== 'replay') || extra.length > 0)
    throw usageError('usage: warren dlq list [--json] | warren dlq replay --all | --id ID [--force]');
  const limit = limitOf(values);
  const json = values.json === true;
  const { dlq } = deadLetterNames(config);
  const conn = await connectBroker(config, `warren-dlq-${sub}`);
  try {
    const get = await conn.createChannel();
    const held = await scan(get, dlq, limit, topicPrefix(config.topicPattern));
    if (held.length === limit) log.warn({ limit }, `read the first ${limit} dead letters only (--limit)`);
    try {
      if (sub === 'list') {
        if (json)
          process.stdout.write(
            `${JSON.stringify(
              held.map((h) => h.info),
              null,
              2,
            )}\n`,
          );
        else for (const h of held) process.stdout.write(show(h.info));
        process.stderr.write(summary(held, dlq));
        return 0;
      }
      const targets = targetsOf(held, values);
      if (targets.length === 0) {
        process.stderr.write(
          `warren dlq: no dead letter matches --id ${values.id} in ${dlq}; see \`warren dlq list\`\n`,
        );
        return 1;
      }
      const force = values.force === true;
      const horizon = force ? undefined : skipBefore(await holdStore(config, 'dlq replay'));
      const { go, old } = atHorizon(targets, horizon);
      const pub = await conn.createConfirmChannel();
      const result = await replay(get, pub, config.exchange, go, { dlq, held });
      // Held again from the end: the consumer has HOLD_S to count what was just published.
      if (!force)
        await holdStore(config, 'dlq replay').catch((err) =>
          log.warn(
            { err: describe(err) },
            `could not renew the hold on pruning; it ends ${HOLD_S} s after the start`,
          ),
        );
      report(
        result,
        json,
        old.map((h) => h.info),
        horizon,
      );
      return result.unroutable.length ? 1 : 0;
    } finally {
      release(get, held);
      await get.close().catch(() => undefined);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export const command: CommandSpec = {
  summary: 'list the dead-letter queue with reasons, or replay dead letters through validation',
  usage: 'warren dlq list [--json] [--limit N]  |  warren dlq replay (--all | --id ID) [--force] [--json]',
  options: {
    json: { type: 'boolean' },
    force: { type: 'boolean' },
    all: { type: 'boolean' },
    id: { type: 'string' },
    limit: { type: 'string' },
  },
  help: {
    json: 'machine-readable output on stdout',
    all: 'replay: every dead letter',
    id: 'replay: the dead letter with this event id or message_id, or at this position (N or #N) of `dlq list`',
    limit: 'read at most N dead letters (default 10000); the rest stay untouched',
    force:
      "replay: also events older than the store's dedupe horizon (their ids may be forgotten: they may be counted again), and without reading the store",
  },
  allowPositionals: true,
  run,
};
