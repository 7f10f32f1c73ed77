// Children for the SDK and snippet tests: a real `warren ingest` and `warren analytics`, started
// and awaited on their readiness endpoints.
import { getJson, type TestEnv, type WarrenProcess, waitFor, warren } from './helpers.js';

export interface Report {
  total: number;
  clientes: Record<string, number>;
}

export async function startAnalytics(env: TestEnv, port: number): Promise<WarrenProcess> {
  const p = warren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) });
  await waitFor(
    'analytics ready',
    async () => (await getJson(`http://127.0.0.1:${port}/readyz`)).status === 200,
    30_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n${p.output()}`);
  });
  return p;
}

/** Starts ingest; with `ready` false it only waits for it to listen (the broker may be away). */
export async function startIngest(
  env: TestEnv,
  port: number,
  extra: Record<string, string> = {},
  ready = true,
): Promise<WarrenProcess> {
  const p = warren(['ingest'], { ...env.env, INGEST_PORT: String(port), ...extra });
  await waitFor(
    ready ? 'ingest ready' : 'ingest listening',
    async () => {
      const s = (await getJson(`http://127.0.0.1:${port}/readyz`)).status;
      return ready ? s === 200 : s === 200 || s === 503;
    },
    30_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n${p.output()}`);
  });
  return p;
}

export async function report(analyticsPort: number): Promise<Report> {
  return (await getJson<Report>(`http://127.0.0.1:${analyticsPort}/reporte`)).body;
}
