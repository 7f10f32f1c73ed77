// CPU per request of the ingest app alone: Fastify, the routes, the body parser and the event
// checks, driven by fastify.inject (no sockets) with the publisher stubbed. The part of ingest's
// cost that Warren's own code decides, for before/after pairs (BENCHMARKS.md, optimisations).
// Usage: node --import tsx scripts/ingest-app-cpu.ts DIST [/events|/send]
//   (DIST: a built dist directory inside the project, e.g. a copy made before a change)
import { resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? 'dist');
const path = process.argv[3] ?? '/events';
const { buildApp } = await import(`${dist}/ingest/app.js`);
const { createMetrics } = await import(`${dist}/ingest/metrics.js`);
const { RateLimiter } = await import(`${dist}/ingest/ratelimit.js`);
const { KeyStore } = await import(`${dist}/ingest/auth.js`);
const { createLogger } = await import(`${dist}/log.js`);
const log = createLogger('warn', 'ingest-app-cpu');
const app = buildApp({
  log,
  publisher: { publish: async () => undefined },
  keys: new KeyStore('/nonexistent/keys.json', 'open', log),
  limiter: new RateLimiter(0, 0),
  metrics: createMetrics(),
  bodyLimit: 1 << 20,
  publishTimeoutMs: 5000,
  ready: () => true,
});
await app.ready();
const payload =
  path === '/send' ? '{"message":"mensaje de prueba"}' : '{"cliente":"bench_http_single","evento":"click"}';
const headers = { 'content-type': 'application/json', 'x-client-name': 'bench' };
const one = () => app.inject({ method: 'POST', url: path, payload, headers });

/** n requests, 64 at a time (as many connections' requests share the event loop). */
async function run(n: number): Promise<void> {
  for (let i = 0; i < n; i += 64) {
    const answers = await Promise.all(Array.from({ length: 64 }, one));
    if (answers[0]!.statusCode !== 202) throw new Error(answers[0]!.body);
  }
}

const N = 20_000;
await run(N); // warm-up
const us: number[] = [];
for (let k = 0; k < 5; k++) {
  const c0 = process.cpuUsage();
  await run(N);
  const c = process.cpuUsage(c0);
  us.push((c.user + c.system) / N);
}
us.sort((a, b) => a - b);
console.log(
  `${dist} ${path}: min ${us[0]!.toFixed(1)} µs/request, median ${us[2]!.toFixed(1)} (5 rounds of ${N})`,
);
await app.close();
