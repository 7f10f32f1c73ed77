// The measured stack of stages 2-5, started once: analytics and two ingest instances as child
// processes, Traefik in front of them (src/stack/traefik.ts, the same configuration `warren up`
// writes), all on free ports and the run's own queue and store; plus the commit watcher.
import { join } from 'node:path';
import { WarrenError } from '../errors.js';
import { createLogger } from '../log.js';
import { startTraefik } from '../stack/index.js';
import { findBrokerPid } from './broker-proc.js';
import { spawnWarren, type WarrenChild } from './child.js';
import type { BenchEnv, Names } from './env.js';
import type { Progress } from './progress.js';
import { CpuMeter, freePort, guardedPid, sleep } from './util.js';
import { CommitWatcher } from './watch.js';

export interface Stage {
  env: BenchEnv;
  names: Names;
  progress: Progress;
  analytics: WarrenChild;
  ingest: WarrenChild[];
  proxyUrl: string;
  watcher: CommitWatcher;
  /** CPU of analytics, ingest, Traefik, the local broker and this process from now on. */
  cpuMeter(): CpuMeter;
  /** A generous deadline for committing n events (a stuck pipeline fails instead of hanging). */
  timeoutMs(events: number): number;
}

export interface StackOptions {
  ingestInstances: number;
  /** Directory for V8 CPU profiles of the children (node --cpu-prof), when profiling. */
  profileDir?: string;
}

/** Polls until the proxy routes /events to an ingest instance (its JSON 404), n times in a row. */
async function proxyRoutes(proxyUrl: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let ok = 0;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${proxyUrl}/events`, { signal: AbortSignal.timeout(1000) });
      const json = (res.headers.get('content-type') ?? '').includes('application/json');
      last = `${res.status} ${json ? 'json' : await res.text()}`;
      ok = json ? ok + 1 : 0;
      if (ok >= n) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      ok = 0;
    }
    await sleep(ok > 0 ? 10 : 200);
  }
  throw new WarrenError(
    'internal',
    `Traefik at ${proxyUrl} does not route /events to ingest (last answer: ${last})`,
  );
}

/** Analytics and the ingest instances as child processes, each ready (its /readyz) on a free port. */
async function spawnParts(
  env: BenchEnv,
  names: Names,
  opts: StackOptions,
  databaseUrl: string,
): Promise<{ analytics: WarrenChild; ingest: WarrenChild[] }> {
  const nodeArgs = (name: string) =>
    opts.profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
      : [];
  const aPort = await freePort();
  const analyticsP = spawnWarren({
    name: 'analytics',
    command: 'analytics',
    port: aPort,
    dir: env.dir,
    env: env.childEnv(names, { ANALYTICS_PORT: String(aPort), DATABASE_URL: databaseUrl }),
    nodeArgs: nodeArgs('analytics'),
  });
  const ingestP = Array.from({ length: opts.ingestInstances }, async (_, i) => {
    const port = await freePort();
    return spawnWarren({
      name: `ingest-${i + 1}`,
      command: 'ingest',
      port,
      dir: env.dir,
      env: env.childEnv(names, { INGEST_PORT: String(port), DATABASE_URL: databaseUrl }),
      nodeArgs: nodeArgs(`ingest-${i + 1}`),
    });
  });
  const settled = await Promise.allSettled([analyticsP, ...ingestP]);
  for (const s of settled) if (s.status === 'fulfilled') env.onCleanup(() => s.value.stop());
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const [analytics, ...ingest] = settled.map((s) => (s as PromiseFulfilledResult<WarrenChild>).value) as [
    WarrenChild,
    ...WarrenChild[],
  ];
  return { analytics, ingest };
}

export async function startStack(env: BenchEnv, progress: Progress, opts: StackOptions): Promise<Stage> {
  const names = env.names('main');
  env.track(names);
  const { analytics, ingest } = await spawnParts(env, names, opts, await env.storeUrl('main'));
  const [proxyPort, apiPort] = [await freePort(), await freePort()];
  const traefik = await startTraefik({
    dir: join(env.dir, 'traefik'),
    host: '127.0.0.1',
    proxyPort,
    apiPort,
    analyticsUrl: analytics.url,
    // No panel in the benchmark; its router points at analytics and is never used.
    panelUrl: analytics.url,
    ingestUrls: ingest.map((c) => c.url),
    bin: env.config.traefikBin,
    // Its start and stop lines would break the progress lines; errors still show.
    log: createLogger('warn', 'bench-traefik'),
    out: () => undefined,
  });
  env.onCleanup(() => traefik.stop());
  const proxyUrl = traefik.proxyUrl;
  await proxyRoutes(proxyUrl, 2 * ingest.length, 15_000);
  const watcher = await CommitWatcher.open(analytics.url);
  env.onCleanup(async () => watcher.close());
  const brokerPid = findBrokerPid(env.config.amqpUrls[0]);
  const pids: Record<string, number> = { analytics: analytics.pid };
  for (const c of ingest) pids[c.name] = c.pid;
  if (traefik.pid !== undefined) pids.traefik = guardedPid(traefik.pid);
  if (brokerPid !== undefined) pids.rabbitmq = brokerPid;
  progress.note(`  started analytics, ${ingest.length} ingest instances and Traefik (${proxyUrl})`);
  return {
    env,
    names,
    progress,
    analytics,
    ingest,
    proxyUrl,
    watcher,
    cpuMeter: () => new CpuMeter(pids),
    timeoutMs: (events) => Math.max(60_000, (events / 300) * 1000),
  };
}
