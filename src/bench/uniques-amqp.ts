// What a usuario on every event costs the AMQP path (stage 2's pipeline: simulated clients →
// exchange → queue → analytics → committed): runs without and with usuario, alternating
// (A B A B …) on the same measured stack so a drift of the machine (other load, a warming cache)
// falls on both; the ratio is of the summed times.
import { build as buildClient } from '../clients/index.js';
import { createLogger } from '../log.js';
import type { Stage } from './stage.js';

export interface AmqpUsersResult {
  events: number;
  clients: number;
  /** Distinct usuario values the clients draw from. */
  users: number;
  rounds: number;
  withoutEps: number;
  withEps: number;
  /** withEps / withoutEps (the goal: >= 0.85). */
  ratio: number;
  /** Each run's rate in order: without, with, without, with, … */
  runs: { usuario: boolean; eps: number }[];
}

async function onePath(stage: Stage, events: number, clients: number, users?: number): Promise<number> {
  const { env, watcher } = stage;
  const config = env.configFor(stage.names);
  const quiet = createLogger('warn', 'bench-client');
  const per = Math.ceil(events / clients);
  const list = Array.from({ length: clients }, (_, i) =>
    buildClient(config, quiet, {
      name: `bench_cliente_${i + 1}`,
      rate: 0,
      count: per,
      events: ['click', 'view', 'purchase'],
      ...(users === undefined ? {} : { users }),
    }),
  );
  const total = per * clients;
  const target = watcher.total + total;
  const t0 = performance.now();
  try {
    for (const c of list) await c.start();
    const tEnd = await watcher.until(target, stage.timeoutMs(total), 'AMQP path with usuario');
    await Promise.all(list.map((c) => c.done));
    return total / ((tEnd - t0) / 1000);
  } finally {
    await Promise.all(list.map((c) => c.close()));
  }
}

export async function runAmqpUsers(
  stage: Stage,
  size: { events: number; clients: number; users: number; rounds: number },
): Promise<AmqpUsersResult> {
  const runs: { usuario: boolean; eps: number }[] = [];
  let tWithout = 0;
  let tWith = 0;
  for (let r = 0; r < size.rounds; r++) {
    for (const usuario of [false, true]) {
      stage.progress.update(
        `AMQP path ${usuario ? 'with' : 'without'} usuario, round ${r + 1} of ${size.rounds}`,
      );
      const eps = await onePath(stage, size.events, size.clients, usuario ? size.users : undefined);
      runs.push({ usuario, eps });
      if (usuario) tWith += size.events / eps;
      else tWithout += size.events / eps;
    }
  }
  const n = size.events * size.rounds;
  const withoutEps = n / tWithout;
  const withEps = n / tWith;
  return { ...size, withoutEps, withEps, ratio: withEps / withoutEps, runs };
}
