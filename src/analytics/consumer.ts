// The analytics batch handler (DESIGN.md, "The consumer loop"): parse every body against the one
// schema; invalid ones are dead-lettered with the schema's verdict; the valid ones are recorded and
// counted in ONE store transaction. A store error throws, so the wrapper retries the same batch.
import { EventEmitter } from 'node:events';
import type { ConsumeMessage } from 'amqplib';
import { ACK, type Outcome } from '../broker/consumer.js';
import { type ParsedEvent, reason } from '../event.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/types.js';
import { parseDelivery, topicPrefix } from './topic.js';

export interface Stats {
  processed: number;
  duplicates: number;
  invalid: number;
  withoutId: number;
  lastBatchAt: number | undefined;
}

export interface BatchCommitted {
  counted: number;
  duplicates: number;
  invalid: number;
  at: string;
}

export class AnalyticsHandler extends EventEmitter {
  readonly stats: Stats = { processed: 0, duplicates: 0, invalid: 0, withoutId: 0, lastBatchAt: undefined };
  /** Arrival-time rate: events counted per second, over the last few seconds. */
  private readonly window: { at: number; n: number }[] = [];
  private readonly prefix: string[];

  constructor(
    private readonly store: () => Store | undefined,
    private readonly metrics: Metrics,
    /** TOPIC_PATTERN: MQTT/STOMP events may name cliente and evento in their routing key. */
    topicPattern: string,
  ) {
    super();
    this.prefix = topicPrefix(topicPattern);
  }

  handle = async (batch: ConsumeMessage[]): Promise<Outcome[]> => {
    const store = this.store();
    if (!store) throw new Error('the store is not ready yet');
    const outcomes: Outcome[] = [];
    const events: ParsedEvent[] = [];
    let invalid = 0;
    for (const msg of batch) {
      const r = parseDelivery(msg.content, msg.fields.routingKey, this.prefix);
      if (!r.ok) {
        invalid++;
        outcomes.push({ deadLetter: reason(r.problems) });
        continue;
      }
      // A client outside Warren may send no id in the body: the AMQP message_id stands in.
      if (
        r.event.id === undefined &&
        typeof msg.properties.messageId === 'string' &&
        msg.properties.messageId
      ) {
        r.event.id = msg.properties.messageId.slice(0, 128);
      }
      events.push(r.event);
      outcomes.push(ACK);
    }
    const started = performance.now();
    const result = events.length ? await store.commit(events) : { counted: 0, duplicates: 0, withoutId: 0 };
    this.metrics.commitSeconds.observe((performance.now() - started) / 1000);
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
    return outcomes;
  };

  /** Events counted per second over the last 5 s (arrival time, for "now" figures). */
  rate(): number {
    const since = Date.now() - 5000;
    while (this.window.length && this.window[0]!.at < since) this.window.shift();
    return this.window.reduce((s, w) => s + w.n, 0) / 5;
  }
}
