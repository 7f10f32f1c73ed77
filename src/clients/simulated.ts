// The seed's servicio-cliente-X: publishes events straight to the exchange with ids (UUID v7) and
// event time, through the confirmed publisher (no deadline: after a broker restart it publishes
// again what was never confirmed, with the same ids).

import { publishingEdge } from '../broker/edge.js';
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

export function makeEvent(cliente: string, evento: string): Event & { id: string } {
  return { id: newId(), cliente, evento, timestamp: new Date().toISOString() };
}

export function build(config: Config, log: Logger, opts: ClientOptions): SimulatedClient {
  const { broker, publisher } = publishingEdge(config, log, {
    name: `warren-client-${opts.name}`,
    failFast: false,
    // "N confirmed" on the events' confirms; the report follows in the same tick (publisher.ts).
    awaitReport: false,
  });
  let published = 0;
  let confirmed = 0;
  let stopped = false;
  let finish: (n: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  const pick = () => opts.events[Math.floor(Math.random() * opts.events.length)]!;

  async function runFast(): Promise<void> {
    const chunk = opts.chunk ?? 250;
    const inFlight = new Set<Promise<void>>();
    const maxChunks = Math.max(2, Math.ceil((config.confirmWindow * 2) / chunk));
    while (!stopped && (opts.count === undefined || published < opts.count)) {
      const n = Math.min(chunk, (opts.count ?? Number.MAX_SAFE_INTEGER) - published);
      const batch = Array.from({ length: n }, () => makeEvent(opts.name, pick()));
      published += n;
      const p: Promise<void> = publisher.publish(batch).then(() => {
        confirmed += n;
        opts.onConfirmed?.(batch.map((e) => e.id));
        inFlight.delete(p);
      });
      inFlight.add(p);
      if (inFlight.size >= maxChunks) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  async function runPaced(): Promise<void> {
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (!stopped && (opts.count === undefined || published < opts.count)) {
      const due = Math.floor(((Date.now() - started) / 1000) * opts.rate) + 1;
      const n = Math.min(due - published, (opts.count ?? Number.MAX_SAFE_INTEGER) - published);
      if (n > 0) {
        const batch = Array.from({ length: n }, () => makeEvent(opts.name, pick()));
        published += n;
        const p: Promise<void> = publisher.publish(batch).then(() => {
          confirmed += n;
          opts.onConfirmed?.(batch.map((e) => e.id));
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await new Promise((r) => setTimeout(r, Math.max(5, Math.min(1000, 1000 / opts.rate))));
    }
    await Promise.all(inFlight);
  }

  return {
    get confirmed() {
      return confirmed;
    },
    get published() {
      return published;
    },
    done,
    async start() {
      broker.start();
      const run = opts.rate > 0 ? runPaced() : runFast();
      void run.then(() => finish(confirmed));
    },
    stop() {
      stopped = true;
    },
    async close() {
      stopped = true;
      await publisher.flush(10_000);
      await publisher.close();
      await broker.close();
    },
  };
}
