// The simulated client over HTTP: POST /events through the gateway (or Traefik) in batches,
// retrying a failed batch with the SAME ids (so a 503 that hid a publish is never counted twice).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { type ClientOptions, makeEvent, type SimulatedClient } from './simulated.js';

export function build(_config: Config, log: Logger, opts: ClientOptions & { url: string }): SimulatedClient {
  const endpoint = `${opts.url.replace(/\/+$/, '')}/events`;
  let published = 0;
  let confirmed = 0;
  let stopped = false;
  let finish: (n: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  const pick = () => opts.events[Math.floor(Math.random() * opts.events.length)]!;

  async function send(batch: ReturnType<typeof makeEvent>[]): Promise<void> {
    const body = JSON.stringify(batch);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 202) return;
        if (res.status !== 503 && res.status !== 429 && res.status < 500) {
          throw new Error(`the gateway refused the batch with HTTP ${res.status}`);
        }
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('the gateway refused')) throw err;
        if (attempt === 0) log.warn({ err: String(err) }, 'gateway unreachable; retrying with the same ids');
      }
      await new Promise((r) =>
        setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())),
      );
    }
  }

  async function run(): Promise<void> {
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (!stopped && (opts.count === undefined || published < opts.count)) {
      const due =
        opts.rate > 0 ? Math.floor(((Date.now() - started) / 1000) * opts.rate) + 1 - published : 100;
      const n = Math.min(100, due, (opts.count ?? Number.MAX_SAFE_INTEGER) - published);
      if (n > 0) {
        const batch = Array.from({ length: n }, () => makeEvent(opts.name, pick()));
        published += n;
        const p: Promise<void> = send(batch).then(() => {
          confirmed += n;
          inFlight.delete(p);
        });
        inFlight.add(p);
        if (inFlight.size >= 8) await Promise.race(inFlight);
      }
      if (opts.rate > 0)
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
      void run().then(
        () => finish(confirmed),
        (err) => {
          log.error({ err: String(err) }, 'client failed');
          finish(confirmed);
        },
      );
    },
    stop() {
      stopped = true;
    },
    async close() {},
  };
}
