// Children for the SDK and snippet tests: a real `warren ingest` and `warren analytics`, started
// and awaited on their readiness endpoints.
import type { Reporte } from '../../src/analytics/index.js';
import { getJson, startWarren, type TestEnv, type WarrenProcess } from './helpers.js';

export function startAnalytics(env: TestEnv, port: number): Promise<WarrenProcess> {
  return startWarren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) }, `http://127.0.0.1:${port}`);
}

/** Starts ingest; with `ready` false it only waits for it to listen (the broker may be away). */
export function startIngest(
  env: TestEnv,
  port: number,
  extra: Record<string, string> = {},
  ready = true,
): Promise<WarrenProcess> {
  return startWarren(
    ['ingest'],
    { ...env.env, INGEST_PORT: String(port), ...extra },
    `http://127.0.0.1:${port}`,
    {
      listening: !ready,
    },
  );
}

export async function report(analyticsPort: number): Promise<Reporte> {
  return (await getJson<Reporte>(`http://127.0.0.1:${analyticsPort}/reporte`)).body;
}
