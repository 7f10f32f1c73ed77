// The proxy's ceiling, the HTTP single path's counterpart of the broker ceiling: Traefik with the
// configuration `warren up` writes, in front of a backend that does nothing (a child Node process
// that answers every POST with a 202 of the size ingest sends), loaded like the HTTP single path
// (same body, same duration), at 64, 128 and 256 connections: the best of these is the ceiling,
// the most any backend behind this Traefik could be asked for on this machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Instance, Result } from 'autocannon';
import { WarrenError } from '../errors.js';
import { createLogger } from '../log.js';
import { startTraefik } from '../stack/index.js';
import type { BenchEnv } from './env.js';
import { autocannon } from './http.js';
import type { Progress } from './progress.js';
import { CpuMeter, freePort, guardedPid, type HostCpu, sleep } from './util.js';

/** Keep-alive connections measured; the best is the ceiling. */
export const PROXY_CONNECTIONS = [64, 128, 256] as const;

export interface ProxyRun {
  /** 202 answers per second through Traefik. */
  rps: number;
  requests: number;
  connections: number;
  seconds: number;
  latencyMs: { p50: number; p99: number };
  cpu: Record<string, number>;
  /** The machine's cores meanwhile, by kind (util.ts, HostCpu): where the rest of its CPU went. */
  host: HostCpu | undefined;
  /** CPU time of the do-nothing backend per request, µs: the least a Node ingest could cost. */
  backendCpuUsPerRequest: number;
}

/** The best run (its figures) and every connection count measured, in order. */
export interface ProxyResult extends ProxyRun {
  runs: ProxyRun[];
}

// An answer of the size ingest's 202 has (one id).
const BACKEND = `
const body = JSON.stringify({ accepted: 1, ids: ['0190c5a2-7f3e-7c1a-9b2e-3f4a5b6c7d8e'] });
require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' });
    res.end(body);
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function answers(url: string, status: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(50);
  }
  throw new WarrenError('internal', `${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/** One event per POST to url for `seconds` over `connections`, with the cores of pids measured. */
async function loadThrough(
  cannon: Awaited<ReturnType<typeof autocannon>>,
  url: string,
  pids: Record<string, number>,
  { seconds, connections }: { seconds: number; connections: number },
  progress: Progress,
): Promise<ProxyRun> {
  const meter = new CpuMeter(pids);
  const t0 = performance.now();
  const instance: Instance = cannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cliente: 'bench_http_single', evento: 'click' }),
    connections,
    duration: seconds,
    timeout: 30,
  });
  let answered = 0;
  instance.on('response', () => {
    if (++answered % 5000 === 0)
      progress.update(`${connections} conns: ${answered.toLocaleString('en-US')} requests answered`);
  });
  const result: Result = await instance;
  const s = (performance.now() - t0) / 1000;
  const cpu = meter.read();
  const host = meter.host();
  const backendCpuS = meter.cpuSeconds().backend ?? Number.NaN;
  const ok = result.statusCodeStats['202']?.count ?? 0;
  if (ok === 0)
    throw new WarrenError(
      'internal',
      `no request through Traefik was answered 202 (${result.errors} errors)`,
    );
  return {
    rps: ok / s,
    requests: result.requests.total,
    connections,
    seconds: s,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    cpu,
    host,
    backendCpuUsPerRequest: (backendCpuS * 1e6) / Math.max(1, result.requests.total),
  };
}

export async function runProxyCeiling(
  env: BenchEnv,
  progress: Progress,
  seconds: number,
  connectionCounts: readonly number[] = PROXY_CONNECTIONS,
): Promise<ProxyResult> {
  const cannon = await autocannon();
  const port = await freePort();
  const backend: ChildProcess = spawn(process.execPath, ['-e', BACKEND], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  const stopBackend = () => {
    if (backend.exitCode === null && backend.signalCode === null) backend.kill('SIGKILL');
  };
  env.onCleanup(async () => stopBackend());
  try {
    const url = `http://127.0.0.1:${port}`;
    await answers(`${url}/events`, 202, 10_000);
    const [proxyPort, apiPort] = [await freePort(), await freePort()];
    const traefik = await startTraefik({
      dir: join(env.dir, 'traefik-proxy'),
      host: '127.0.0.1',
      proxyPort,
      apiPort,
      analyticsUrl: url,
      panelUrl: url,
      ingestUrls: [url],
      bin: env.config.traefikBin,
      log: createLogger('warn', 'bench-traefik'),
      out: () => undefined,
    });
    try {
      await answers(`${traefik.proxyUrl}/events`, 202, 15_000);
      const pids: Record<string, number> = { backend: backend.pid! };
      if (traefik.pid !== undefined) pids.traefik = guardedPid(traefik.pid);
      // One unrecorded second first, as on the HTTP single path: the steady state is measured.
      await loadThrough(
        cannon,
        `${traefik.proxyUrl}/events`,
        pids,
        { seconds: 1, connections: 128 },
        progress,
      );
      const runs: ProxyRun[] = [];
      for (const connections of connectionCounts)
        runs.push(
          await loadThrough(cannon, `${traefik.proxyUrl}/events`, pids, { seconds, connections }, progress),
        );
      const best = runs.reduce((a, b) => (b.rps > a.rps ? b : a));
      return { ...best, runs };
    } finally {
      await traefik.stop();
    }
  } finally {
    stopBackend();
  }
}
