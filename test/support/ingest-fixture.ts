// Shared set-up of the ingest tests: a real ingest service (real broker connection and confirmed
// publisher) on a testEnv() of its own, driven in-process with fastify.inject.
import type { TestContext } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { type Config, loadConfig } from '../../src/config.js';
import { build, type Ingest } from '../../src/ingest/service.js';
import { createLogger } from '../../src/log.js';
import { type TestEnv, testEnv, waitFor } from './helpers.js';

// Expected failures (503s, refused requests) log warnings; raise with TEST_LOG_LEVEL=info to see them.
export const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'error';

export interface IngestFixture {
  svc: Ingest;
  te: TestEnv;
  config: Config;
  /** POSTs a body (object → JSON) with Content-Type application/json unless headers say otherwise. */
  post(url: string, body: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
}

/** Starts ingest's broker side (no port) and tears everything down after the test. */
export async function startIngest(
  t: TestContext,
  env: Record<string, string> = {},
  opts: { waitReady?: boolean; te?: TestEnv; logLines?: string[] } = {},
): Promise<IngestFixture> {
  const te = opts.te ?? testEnv('ingest');
  const config = loadConfig({ ...te.env, LOG_LEVEL, ...env });
  // With logLines, every log line (info and up) is kept there too, for tests that check what is logged.
  const lines = opts.logLines;
  const log = lines
    ? pino({ name: 'ingest', level: 'info' }, { write: (l: string) => void lines.push(l) })
    : createLogger(LOG_LEVEL, 'ingest');
  const svc = build(config, log);
  t.after(async () => {
    await svc.close();
    await te.cleanup();
  });
  svc.connect();
  if (opts.waitReady !== false)
    await waitFor('ingest connected to RabbitMQ', () => svc.publisher.ready, 20_000);
  const inject = (o: InjectOptions) => svc.app.inject(o);
  return {
    svc,
    te,
    config,
    inject,
    post: (url, body, headers = {}) =>
      inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', ...headers },
        payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      }),
  };
}

/** The value of one sample of a Prometheus text exposition (labels given as `a="b",c="d"`). */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const want = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    const sp = line.lastIndexOf(' ');
    if (sp > 0 && line.slice(0, sp) === want) return Number(line.slice(sp + 1));
  }
  return undefined;
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}
