// Measures how `warren analytics` scales out on a RabbitMQ cluster with PostgreSQL (docs/scaling.md).
// A program that prints figures, not a test (STYLE.md 13). For each consumer count M: a fresh
// queue and database; C simulated clients preload N events (`--rate 0`, confirmed: the publish
// rate); then M analytics start together and drain the queue. The drain rate is taken between 10%
// and 90% counted, so process start-up stays out of it. Then, with the M consumers running, the
// clients publish N more: end-to-end events/s from the clients' start to the last one counted.
//   npm run cluster                                   (another terminal; prints AMQP_URL)
//   AMQP_URL=amqp://…:5681,…:5682,…:5683 node --import tsx scripts/cluster-scaling.ts [--events 30000] [--consumers 1,2,3]
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Reporte } from '../src/analytics/index.js';
import {
  deleteTopology,
  freePort,
  getJson,
  pgDatabase,
  sleep,
  testEnv,
  type WarrenProcess,
  warren,
} from '../test/support/helpers.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '30000' },
    consumers: { type: 'string', default: '1,2,3' },
    clients: { type: 'string', default: '3' },
  },
});
const N = Number(values.events);
const C = Number(values.clients);
const counts = values.consumers.split(',').map(Number);
const amqpUrl = process.env.AMQP_URL;
if (!amqpUrl) {
  process.stderr.write('set AMQP_URL to the cluster (`npm run cluster` prints it)\n');
  process.exit(2);
}
const say = (s: string) => process.stderr.write(`${s}\n`);

/** Polls every 50 ms for up to 5 minutes; an error (a dead analytics) ends it at once. */
async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Row {
  consumers: number;
  publish_eps: number;
  drain_eps: number;
  e2e_eps: number;
}

async function once(m: number): Promise<Row> {
  const te = testEnv('scale');
  const db = await pgDatabase(te.id);
  const procs: WarrenProcess[] = [];
  const urls = amqpUrl!.split(',');
  const rotated = (i: number) =>
    [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)].join(',');
  const env = { ...te.env, AMQP_URL: amqpUrl!, DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
  try {
    // Declares the queue first, so the clients' events are kept for the consumers.
    const topo = warren(['topology'], env);
    if ((await topo.exited) !== 0) throw new Error(`warren topology failed: ${topo.output()}`);
    const per = Math.ceil(N / C);
    const p0 = Date.now();
    const clients = Array.from({ length: C }, (_, i) =>
      warren(['client', '--name', `cliente_${i + 1}`, '--rate', '0', '--count', String(per)], {
        ...env,
        AMQP_URL: rotated(i),
      }),
    );
    procs.push(...clients);
    for (const c of clients) if ((await c.exited) !== 0) throw new Error(`client failed: ${c.output()}`);
    const publishEps = (per * C) / ((Date.now() - p0) / 1000);
    const total = per * C;

    const bases: string[] = [];
    for (let i = 0; i < m; i++) {
      const port = await freePort();
      procs.push(warren(['analytics'], { ...env, AMQP_URL: rotated(i), ANALYTICS_PORT: String(port) }));
      bases.push(`http://127.0.0.1:${port}`);
    }
    const analytics = procs.slice(-m);
    const counted = async () => {
      for (const a of analytics)
        if (a.child.exitCode !== null) throw new Error(`analytics exited:\n${a.output().slice(-3000)}`);
      for (const b of bases) {
        const r = await getJson<Reporte>(`${b}/reporte`).catch(() => undefined);
        if (r?.status === 200) return r.body.total;
      }
      return 0;
    };
    const mark = async (frac: number) => {
      await until(`${frac * 100}% counted`, async () => (await counted()) >= total * frac);
      return Date.now();
    };
    const t10 = await mark(0.1);
    const t90 = await mark(0.9);
    await mark(1);

    // End to end: the same clients publish N more while the M consumers run, until all counted.
    const e0 = Date.now();
    const more = Array.from({ length: C }, (_, i) =>
      warren(['client', '--name', `cliente_${i + 1}`, '--rate', '0', '--count', String(per)], {
        ...env,
        AMQP_URL: rotated(i),
      }),
    );
    procs.push(...more);
    await until('all counted end to end', async () => (await counted()) >= 2 * total);
    const e2eEps = Math.round(total / ((Date.now() - e0) / 1000));
    return {
      e2e_eps: e2eEps,
      consumers: m,
      publish_eps: Math.round(publishEps),
      drain_eps: Math.round((0.8 * total) / ((t90 - t10) / 1000)),
    };
  } finally {
    for (const p of procs) await p.kill('SIGTERM');
    await deleteTopology(urls[0]!, te.exchange, te.queue, te.auditQueue).catch(() => undefined);
    rmSync(te.dir, { recursive: true, force: true });
    await db.drop().catch(() => undefined);
  }
}

const rows: Row[] = [];
for (const m of counts) {
  say(`${m} analytics consumer(s): preloading ${N} events with ${C} clients, then draining…`);
  const r = await once(m);
  say(`  publish ${r.publish_eps} events/s, drain ${r.drain_eps} events/s, end to end ${r.e2e_eps} events/s`);
  rows.push(r);
}
process.stdout.write(`${JSON.stringify({ events: N, clients: C, rows }, null, 2)}\n`);
