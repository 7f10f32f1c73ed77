// The analytics batch handler (DESIGN.md, "The consumer loop"): parse every body against the one
// schema; invalid ones are dead-lettered with the schema's verdict; the valid ones are recorded and
// counted in ONE store transaction. A store that is down throws, so the wrapper retries the same
// batch; a store that answers but refuses the batch has its culprit found by splitting (DESIGN.md,
// "Properties are input"): one bad message never stops counting.
import { EventEmitter } from 'node:events';
import type { ConsumeMessage } from 'amqplib';
import { ACK, type Outcome } from '../broker/index.js';
import { describe, WarrenError } from '../errors.js';
import { type ParsedEvent, reason } from '../event.js';
import type { Logger } from '../log.js';
import type { CommitResult, Store } from '../store/index.js';
import { readDelivery, topicPrefix } from '../topic.js';
import type { Metrics } from './metrics.js';

type Counted = CommitResult;
interface Item {
  /** Index in the batch. */
  i: number;
  event: ParsedEvent;
}

function sum(a: Counted, b: Counted): Counted {
  return {
    counted: a.counted + b.counted,
    duplicates: a.duplicates + b.duplicates,
    withoutId: a.withoutId + b.withoutId,
  };
}

// Errors that are the store's own, whatever the batch holds: retry the whole batch, split nothing.
// PostgreSQL SQLSTATE classes 08 connection, 40 rollback (serialization, deadlock), 53 resources,
// 57 operator intervention, 58 system error; SQLite busy/locked, I/O, full, read-only, corrupt.
const PG_STORE_CLASSES = new Set(['08', '40', '53', '57', '58']);
const SQLITE_STORE_CODES =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CORRUPT|CANTOPEN|NOMEM|NOTADB|PROTOCOL|INTERRUPT)/;

/** Whether an error says the store itself is failing (not something in the batch). */
export function isStoreFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (/^[0-9A-Z]{5}$/.test(code)) return PG_STORE_CLASSES.has(code.slice(0, 2));
  if (SQLITE_STORE_CODES.test(code)) return true;
  // Node's socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT…): the store is unreachable.
  return /^E[A-Z]+$/.test(code);
}

async function answers(store: Store): Promise<boolean> {
  try {
    await store.ping();
    return true;
  } catch {
    return false;
  }
}

function messageIdOf(msg: ConsumeMessage | undefined): string | undefined {
  const v: unknown = msg?.properties.messageId;
  return typeof v === 'string' ? JSON.stringify(v).slice(1, 81) : undefined;
}

export interface Stats {
  processed: number;
  duplicates: number;
  invalid: number;
  withoutId: number;
  /** Valid events the store refused while answering (dead-lettered alone by the split). */
  refused: number;
  lastBatchAt: number | undefined;
}

export interface BatchCommitted {
  counted: number;
  duplicates: number;
  invalid: number;
  at: string;
}

export class AnalyticsHandler extends EventEmitter {
  readonly stats: Stats = {
    processed: 0,
    duplicates: 0,
    invalid: 0,
    withoutId: 0,
    refused: 0,
    lastBatchAt: undefined,
  };
  /** Per batch (the same array on every retry): outcomes already decided. */
  private readonly decided = new WeakMap<ConsumeMessage[], Map<number, Outcome>>();
  /** Arrival-time rate: events counted per second, over the last few seconds. */
  private readonly window: { at: number; n: number }[] = [];
  private readonly prefix: string[];

  constructor(
    private readonly store: () => Store | undefined,
    private readonly metrics: Metrics,
    /** TOPIC_PATTERN: MQTT/STOMP events may name cliente and evento in their routing key. */
    topicPattern: string,
    private readonly log?: Logger,
  ) {
    super();
    this.prefix = topicPrefix(topicPattern);
  }

  handle = async (batch: ConsumeMessage[]): Promise<Outcome[]> => {
    const store = this.store();
    if (!store)
      throw new WarrenError('store_unavailable', 'the store is not ready yet (analytics retries the batch)');
    // A batch retried after a failure comes back as the same array: what a split already
    // committed (or refused) stays decided, so an event without an id is never counted twice.
    let decided = this.decided.get(batch);
    if (!decided) {
      decided = new Map();
      this.decided.set(batch, decided);
    }
    const items: Item[] = [];
    let invalid = 0;
    batch.forEach((msg, i) => {
      if (decided.has(i)) return;
      const r = readDelivery(msg, this.prefix);
      if (r.ok) items.push({ i, event: r.event });
      else {
        invalid++;
        decided.set(i, { deadLetter: reason(r.problems) });
      }
    });
    const started = performance.now();
    const result = await this.commitSplitting(store, items, decided, batch);
    this.metrics.commitSeconds.observe((performance.now() - started) / 1000);
    this.record(result, invalid);
    return batch.map((_, i) => decided.get(i) ?? ACK);
  };

  /**
   * Commits the items in one transaction. When the store refuses it while it still answers a
   * ping, the cause is tied to some message: the items are split in halves until the culprit is
   * alone, which is dead-lettered with the store's error (after one more try); the rest commit.
   * When the store does not answer (or the error is the store's own), it throws: the wrapper
   * retries the batch after a backoff and nothing is dead-lettered.
   */
  private async commitSplitting(
    store: Store,
    items: Item[],
    decided: Map<number, Outcome>,
    batch: ConsumeMessage[],
  ): Promise<Counted> {
    if (items.length === 0) return { counted: 0, duplicates: 0, withoutId: 0 };
    try {
      const r = await store.commit(items.map((x) => x.event));
      for (const x of items) decided.set(x.i, ACK);
      return r;
    } catch (err) {
      if (isStoreFault(err) || !(await answers(store))) throw err;
      if (items.length > 1) {
        const half = Math.ceil(items.length / 2);
        const a = await this.commitSplitting(store, items.slice(0, half), decided, batch);
        const b = await this.commitSplitting(store, items.slice(half), decided, batch);
        return sum(a, b);
      }
      return this.refuseOne(store, items[0]!, decided, batch, err);
    }
  }

  /** One event the store refused while answering: one more try, then the dead-letter queue. */
  private async refuseOne(
    store: Store,
    item: Item,
    decided: Map<number, Outcome>,
    batch: ConsumeMessage[],
    first: unknown,
  ): Promise<Counted> {
    try {
      const r = await store.commit([item.event]);
      decided.set(item.i, ACK);
      return r;
    } catch (err) {
      if (isStoreFault(err) || !(await answers(store))) throw err;
      const why = `the store refused this event: ${describe(err)}`;
      this.log?.warn(
        {
          err: describe(err),
          firstErr: describe(first),
          id: item.event.id,
          messageId: messageIdOf(batch[item.i]),
        },
        'the store refused one event of a batch; dead-lettering it alone, the rest are counted',
      );
      this.stats.refused++;
      decided.set(item.i, { deadLetter: why });
      return { counted: 0, duplicates: 0, withoutId: 0 };
    }
  }

  private record(result: Counted, invalid: number): void {
    this.stats.processed += result.counted;
    this.stats.duplicates += result.duplicates;
    this.stats.withoutId += result.withoutId;
    this.stats.invalid += invalid;
    this.stats.lastBatchAt = Date.now();
    this.metrics.processed.inc(result.counted);
    this.metrics.duplicates.inc(result.duplicates);
    this.metrics.invalid.inc(invalid);
    this.metrics.withoutId.inc(result.withoutId);
    this.window.push({ at: Date.now(), n: result.counted });
    const committed: BatchCommitted = {
      counted: result.counted,
      duplicates: result.duplicates,
      invalid,
      at: new Date().toISOString(),
    };
    this.emit('batch', committed);
  }

  /** Events counted per second over the last 5 s (arrival time, for "now" figures). */
  rate(): number {
    const since = Date.now() - 5000;
    while (this.window.length && this.window[0]!.at < since) this.window.shift();
    return this.window.reduce((s, w) => s + w.n, 0) / 5;
  }
}
