// The panel's end-to-end rig: analytics and the panel as `warren` children on a testEnv(), a real
// Traefik in front (src/stack/traefik.ts, the same config `warren up` writes), and headless
// Chromium through playwright-core. Used by test/panel-e2e.test.ts and scripts/panel-screenshot.ts.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { createLogger } from '../../src/log.js';
import { type RunningTraefik, startTraefik } from '../../src/stack/traefik.js';
import {
  freePort,
  getJson,
  publishRaw,
  ROOT,
  type TestEnv,
  testEnv,
  untilReady,
  type WarrenProcess,
  waitFor,
  warren,
} from './helpers.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface PanelStack {
  env: TestEnv;
  analyticsUrl: string;
  panelUrl: string;
  proxyUrl: string;
  startAnalytics(): Promise<void>;
  stopAnalytics(): Promise<void>;
  close(): Promise<void>;
  output(): string;
}

/** Builds the page if it is missing (npm test's set-up normally has done it). */
export function ensurePanelBuilt(): void {
  if (existsSync(join(ROOT, 'src', 'panel', 'web', 'dist', 'app.js'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-panel.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/build-panel.mjs failed; see above');
}

export async function startPanelStack(prefix = 'panel'): Promise<PanelStack> {
  ensurePanelBuilt();
  const env = testEnv(prefix);
  const [analyticsPort, panelPort, proxyPort, apiPort, noIngest] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const analyticsUrl = `http://127.0.0.1:${analyticsPort}`;
  const panelUrl = `http://127.0.0.1:${panelPort}`;
  const childEnv = {
    ...env.env,
    ANALYTICS_PORT: String(analyticsPort),
    PANEL_PORT: String(panelPort),
    ANALYTICS_URL: analyticsUrl,
    LOG_LEVEL: 'warn',
    // Retention passes are not what this test is about.
    RETENTION_INTERVAL_S: '0',
  };
  let analytics: WarrenProcess | undefined;
  let log = '';
  const startAnalytics = async () => {
    analytics = warren(['analytics'], childEnv);
    await untilReady(analytics, analyticsUrl);
  };
  await startAnalytics();
  const panel = warren(['panel'], childEnv);
  let traefik: RunningTraefik | undefined;
  try {
    await untilReady(panel, panelUrl);
    traefik = await startTraefik({
      dir: join(env.dir, 'traefik'),
      host: '127.0.0.1',
      proxyPort,
      apiPort,
      panelUrl,
      analyticsUrl,
      // No ingest in this rig; Traefik's health check keeps this address out of rotation.
      ingestUrls: [`http://127.0.0.1:${noIngest}`],
      log: createLogger('warn', 'traefik'),
      out: (line) => {
        log += `${line}\n`;
      },
    });
    const proxied = `${traefik.proxyUrl}/panel/healthz`;
    await waitFor('the panel through Traefik', async () => (await getJson(proxied)).status === 200);
  } catch (err) {
    await Promise.all([analytics?.kill(), panel.kill(), traefik?.stop()]);
    await env.cleanup();
    throw err;
  }
  const running = traefik;
  return {
    env,
    analyticsUrl,
    panelUrl,
    proxyUrl: running.proxyUrl,
    startAnalytics,
    async stopAnalytics() {
      log += analytics?.output() ?? '';
      await analytics?.kill();
      analytics = undefined;
    },
    async close() {
      await running.stop();
      await Promise.all([panel.kill(), analytics?.kill()]);
      await env.cleanup();
    },
    output: () => `${log}${analytics?.output() ?? ''}${panel.output()}`,
  };
}

export interface DemoEvent {
  cliente: string;
  evento: string;
  /** Event time; default now. */
  at?: Date;
  /** The actor, for unique users; none by default. */
  usuario?: string;
}

/** Publishes events as Warren's publishers do (ids filled, persistent, confirmed). */
export async function publishEvents(exchange: string, events: DemoEvent[]): Promise<void> {
  const bodies = events.map((e) =>
    JSON.stringify({
      id: randomUUID(),
      cliente: e.cliente,
      evento: e.evento,
      timestamp: (e.at ?? new Date()).toISOString(),
      ...(e.usuario === undefined ? {} : { usuario: e.usuario }),
    }),
  );
  for (let i = 0; i < bodies.length; i += 500) {
    await publishRaw(exchange, bodies.slice(i, i + 500), { contentType: 'application/json' });
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
