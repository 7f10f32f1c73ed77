// The simulated client over HTTP, on the project's own SDK (src/sdk): events are batched and
// POSTed to the gateway (or Traefik), retried with the SAME ids on 503/429/timeouts, so a 503
// that hid a publish is never counted twice. A full SDK buffer means the gateway is behind: the
// client waits for room instead of piling up more.
import type { Config } from '../config.js';
import { newId } from '../id.js';
import type { Logger } from '../log.js';
import { BufferFullError, createClient, type WarrenClient } from '../sdk/index.js';
import { type ClientOptions, type SimulatedClient, usuarioFor } from './simulated.js';

/** The SDK's HTTP client for this simulated client; it logs a refusal and its recovery once each. */
function gatewayClient(log: Logger, opts: ClientOptions & { url: string }): WarrenClient {
  const sdk = createClient({
    transport: 'http',
    url: opts.url,
    cliente: opts.name,
    batchSize: opts.chunk ?? 250,
    flushIntervalMs: opts.rate > 0 ? Math.min(1000, Math.max(20, 1000 / opts.rate)) : 50,
  });
  let warned = false;
  sdk.on('retry', (info) => {
    if (!warned) log.warn(info, 'the gateway did not take a batch; retrying with the same ids');
    warned = true;
  });
  sdk.on('confirmed', ({ ids }) => {
    opts.onConfirmed?.(ids);
    if (warned) log.info('the gateway takes batches again');
    warned = false;
  });
  sdk.on('error', (err) => log.error({ err: err.message }, 'the gateway refused a batch'));
  return sdk;
}

/** The wait between two rounds: 1/rate s (5 ms to 1 s), or one turn of the event loop when unpaced. */
function pause(rate: number): Promise<unknown> {
  if (rate > 0) return new Promise((r) => setTimeout(r, Math.max(5, Math.min(1000, 1000 / rate))));
  return new Promise((r) => setImmediate(r));
}

export function build(_config: Config, log: Logger, opts: ClientOptions & { url: string }): SimulatedClient {
  const sdk = gatewayClient(log, opts);
  let published = 0;
  let stopped = false;
  let finish: (n: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  const pick = () => opts.events[Math.floor(Math.random() * opts.events.length)]!;
  const left = () => (opts.count ?? Number.MAX_SAFE_INTEGER) - published;

  async function trackOne(): Promise<void> {
    for (;;) {
      try {
        if (opts.users === undefined) sdk.track(pick());
        else {
          // The id is chosen here so the usuario can be derived from it (usuarioFor).
          const id = newId();
          sdk.track(pick(), { id, usuario: usuarioFor(id, opts.users) });
        }
        published++;
        return;
      } catch (err) {
        if (!(err instanceof BufferFullError)) throw err;
        await sdk.waitForSpace();
      }
    }
  }

  async function run(): Promise<void> {
    const started = Date.now();
    while (!stopped && left() > 0) {
      const due =
        opts.rate > 0 ? Math.floor(((Date.now() - started) / 1000) * opts.rate) + 1 - published : 500;
      for (let n = Math.min(due, left()); n > 0 && !stopped; n--) await trackOne();
      await pause(opts.rate);
    }
    // With --count it ends when all are confirmed; when stopped by a signal it waits a bounded time.
    await sdk.flush(stopped ? 10_000 : undefined);
  }

  return {
    get confirmed() {
      return sdk.stats.confirmed;
    },
    get published() {
      return published;
    },
    done,
    async start() {
      void run().then(
        () => finish(sdk.stats.confirmed),
        (err) => {
          log.error({ err: String(err) }, 'client failed');
          finish(sdk.stats.confirmed);
        },
      );
    },
    stop() {
      stopped = true;
    },
    async close() {
      stopped = true;
      await sdk
        .close({ timeoutMs: 10_000 })
        .catch((err: Error) => log.warn({ err: err.message }, 'closing with events unconfirmed'));
    },
  };
}
