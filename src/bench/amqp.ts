// Stage 2, the AMQP path: simulated clients (src/clients/simulated.ts, in this process, as fast as
// confirms allow) → exchange → queue → analytics (a child process) → committed. Timed from the
// clients' start (their connection included) to the batch that committed the last event.
import { build as buildClient } from '../clients/index.js';
import { createLogger } from '../log.js';
import type { Stage } from './stage.js';
import type { HostCpu } from './util.js';

export interface AmqpPathResult {
  eps: number;
  events: number;
  clients: number;
  seconds: number;
  /** Cores used per process while it ran (1.0 = one core busy). */
  cpu: Record<string, number>;
  /** The machine's cores meanwhile, by kind (util.ts, HostCpu): where the rest of its CPU went. */
  host: HostCpu | undefined;
  /** CPU seconds used per process while it ran (what a change to CPU per event compares). */
  cpuSeconds: Record<string, number>;
}

export async function runAmqpPath(stage: Stage, events: number, clients: number): Promise<AmqpPathResult> {
  const { env, watcher, progress } = stage;
  const config = env.configFor(stage.names);
  const quiet = createLogger('warn', 'bench-client');
  const per = Math.ceil(events / clients);
  const list = Array.from({ length: clients }, (_, i) =>
    buildClient(config, quiet, {
      name: `bench_cliente_${i + 1}`,
      rate: 0,
      count: per,
      events: ['click', 'view', 'purchase'],
    }),
  );
  const total = per * clients;
  const target = watcher.total + total;
  const meter = stage.cpuMeter();
  const t0 = performance.now();
  const ticker = setInterval(() => {
    const done = watcher.total - (target - total);
    progress.update(`${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} committed`);
  }, 250);
  try {
    for (const c of list) await c.start();
    const tEnd = await watcher.until(target, stage.timeoutMs(total), 'AMQP path');
    const cpu = meter.read();
    const host = meter.host();
    const cpuSeconds = Object.fromEntries(
      Object.entries(meter.cpuSeconds()).map(([name, s]) => [name, Math.round(s * 100) / 100]),
    );
    const seconds = (tEnd - t0) / 1000;
    await Promise.all(list.map((c) => c.done));
    return { eps: total / seconds, events: total, clients, seconds, cpu, host, cpuSeconds };
  } finally {
    clearInterval(ticker);
    await Promise.all(list.map((c) => c.close()));
  }
}
