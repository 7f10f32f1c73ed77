// The seed's servicio-cliente-X: publishes events straight to the exchange with ids (UUID v7) and
// event time, through the confirmed publisher (no deadline: after a broker restart it publishes
// again what was never confirmed, with the same ids).

import { type PublishingEdge, publishingEdge } from '../broker/index.js';
import type { Config } from '../config.js';
import type { Event } from '../event.js';
import { newId } from '../id.js';
import type { Logger } from '../log.js';

export interface ClientOptions {
  name: string;
  /** Events per second; 0 = as fast as confirms allow. */
  rate: number;
  /** Stop after this many confirmed events; undefined = until stopped. */
  count: number | undefined;
  events: string[];
  /** Events per publish call. */
  chunk?: number;
  /** When set, every event carries a usuario, one of this many (usuarioFor: from its id). */
  users?: number;
  /** Called with the ids of each batch once the broker confirmed all of it (`--ids-out`). */
  onConfirmed?: (ids: string[]) => void;
}

export interface SimulatedClient {
  start(): Promise<void>;
  /** Resolves with the number confirmed when --count is reached or stop() was called. */
  done: Promise<number>;
  stop(): void;
  close(): Promise<void>;
  readonly confirmed: number;
  readonly published: number;
}

// The event time, formatted once per millisecond rather than once per event.
let nowMs = -1;
let nowText = '';

/**
 * A new event of now, with its time as epoch ms too (`ms`, as a parsed event has it): the
 * publisher's accounting takes it instead of parsing the timestamp again. Never serialized.
 */
export function makeEvent(cliente: string, evento: string): Event & { id: string; ms: number } {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    nowText = new Date(ms).toISOString();
  }
  return { id: newId(), cliente, evento, timestamp: nowText, ms };
}

/**
 * The usuario of an event of a client sending as `users` users: u0 … u<users-1>, a hash of the
 * event's id (FNV-1a), so whoever holds the confirmed ids (the chaos suite's --ids-out files)
 * knows exactly which users were sent, and a re-published event keeps its user.
 */
export function usuarioFor(id: string, users: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return `u${(h >>> 0) % users}`;
}

export function build(config: Config, log: Logger, opts: ClientOptions): SimulatedClient {
  return new AmqpClient(config, log, opts);
}

/** Publishes straight to the exchange: as fast as confirms allow, or paced at opts.rate. */
class AmqpClient implements SimulatedClient {
  published = 0;
  confirmed = 0;
  readonly done: Promise<number>;
  private stopped = false;
  private finish: (n: number) => void = () => undefined;
  private readonly edge: PublishingEdge;

  constructor(
    private readonly config: Config,
    log: Logger,
    private readonly opts: ClientOptions,
  ) {
    this.edge = publishingEdge(config, log, {
      name: `warren-client-${opts.name}`,
      failFast: false,
      // "N confirmed" on the events' confirms; the report follows in the same tick (publisher.ts).
      awaitReport: false,
    });
    this.done = new Promise<number>((r) => (this.finish = r));
  }

  private get wanted(): boolean {
    return !this.stopped && (this.opts.count === undefined || this.published < this.opts.count);
  }

  private get left(): number {
    return (this.opts.count ?? Number.MAX_SAFE_INTEGER) - this.published;
  }

  /** Publishes n events; the publish leaves inFlight once the broker confirmed all of them. */
  private send(n: number, inFlight: Set<Promise<void>>): void {
    const { opts } = this;
    const batch = Array.from({ length: n }, () => {
      const e: Event & { id: string; ms: number } = makeEvent(
        opts.name,
        opts.events[Math.floor(Math.random() * opts.events.length)]!,
      );
      if (opts.users !== undefined) e.usuario = usuarioFor(e.id, opts.users);
      return e;
    });
    this.published += n;
    const p: Promise<void> = this.edge.publisher.publish(batch).then(() => {
      this.confirmed += n;
      opts.onConfirmed?.(batch.map((e) => e.id));
      inFlight.delete(p);
    });
    inFlight.add(p);
  }

  /** Chunks of opts.chunk, up to twice the confirm window in flight. */
  private async runFast(): Promise<void> {
    const chunk = this.opts.chunk ?? 250;
    const inFlight = new Set<Promise<void>>();
    const maxChunks = Math.max(2, Math.ceil((this.config.confirmWindow * 2) / chunk));
    while (this.wanted) {
      this.send(Math.min(chunk, this.left), inFlight);
      if (inFlight.size >= maxChunks) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /** Whatever is due at opts.rate since the start, every 1/rate s (5 ms to 1 s). */
  private async runPaced(): Promise<void> {
    const { rate } = this.opts;
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (this.wanted) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate) + 1;
      const n = Math.min(due - this.published, this.left);
      if (n > 0) this.send(n, inFlight);
      await new Promise((r) => setTimeout(r, Math.max(5, Math.min(1000, 1000 / rate))));
    }
    await Promise.all(inFlight);
  }

  async start(): Promise<void> {
    this.edge.broker.start();
    const run = this.opts.rate > 0 ? this.runPaced() : this.runFast();
    void run.then(() => this.finish(this.confirmed));
  }

  stop(): void {
    this.stopped = true;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.edge.publisher.flush(10_000);
    await this.edge.publisher.close();
    await this.edge.broker.close();
  }
}
