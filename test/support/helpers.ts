// Shared test helpers: unique names per test, free ports, waiting on conditions with a deadline,
// and warren processes run as children (from the built dist/, which `npm test` builds first).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';

export const ROOT = join(import.meta.dirname, '..', '..');
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh exchange/queue/store per test, so tests never see each other's events. */
export interface TestEnv {
  id: string;
  exchange: string;
  queue: string;
  dlq: string;
  auditQueue: string;
  dir: string;
  dbPath: string;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
}

export function testEnv(prefix = 't'): TestEnv {
  const id = `${prefix}_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `warren-${id}-`));
  const exchange = `${id}.eventos`;
  const queue = `${id}.cola`;
  const auditQueue = `${id}.auditoria`;
  const dbPath = join(dir, 'warren.db');
  const env = {
    AMQP_URL,
    EXCHANGE: exchange,
    QUEUE: queue,
    AUDIT_QUEUE: auditQueue,
    DATABASE_URL: `sqlite:${dbPath}`,
    AUDIT_DIR: join(dir, 'audit'),
    API_KEYS_FILE: join(dir, 'keys.json'),
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    // The shared broker must not route MQTT/STOMP traffic into test exchanges by accident.
    TOPIC_PATTERN: `${id}.#`,
    // Every analytics declares the alert topology: a test's own, never the shared `alertas`.
    ALERT_EXCHANGE: `${id}.alertas`,
    ALERT_QUEUE: `${id}.alertas.webhooks`,
  };
  return {
    id,
    exchange,
    queue,
    dlq: `${queue}.dlq`,
    auditQueue,
    dir,
    dbPath,
    env,
    cleanup: async () => {
      await deleteTopology(env.AMQP_URL, exchange, queue, auditQueue).catch(() => undefined);
      await deleteAlertTopology(env.AMQP_URL, env.ALERT_EXCHANGE, env.ALERT_QUEUE).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function deleteTopology(url: string, exchange: string, queue: string, auditQueue: string) {
  const conn = await amqp.connect(url);
  try {
    for (const q of [queue, `${queue}.dlq`, `${queue}.reconcile`, auditQueue]) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    for (const x of [exchange, `${exchange}.dlx`]) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(x).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close();
  }
}

/** The alert exchange, its queue and their dead letters (src/topology.ts declareAlerts). */
export async function deleteAlertTopology(url: string, exchange: string, queue: string) {
  const conn = await amqp.connect(url);
  try {
    for (const q of [queue, `${exchange}.dlq`]) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    for (const x of [exchange, `${exchange}.dlx`]) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(x).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close();
  }
}

export { freePort } from '../../src/net.js';

/** Pauses ms: a pace between actions, never a guess at how long something takes (that is waitFor). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const HUNG = Symbol('hung');

/** Polls until fn returns a truthy value; throws with the last value or error at the deadline. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    // A check that never settles (a request to a process that stopped answering) must not hold
    // the wait past its deadline: it is given what is left of it, at least one period.
    const left = Math.max(deadline - Date.now(), everyMs);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<typeof HUNG>((r) => {
      timer = setTimeout(() => r(HUNG), left);
    });
    try {
      const v = await Promise.race([Promise.resolve().then(fn), hung]);
      if (v === HUNG) last = new Error(`a check was still unanswered after ${left} ms`);
      else if (v) return v as NonNullable<T>;
      else last = v;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    }
    await sleep(everyMs);
  }
}

/**
 * Awaits `p`, or fails after `ms` naming what it waited for: no wait in the fault tests is
 * open-ended, so a stuck run says what it was stuck on instead of running into the test timeout.
 */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WarrenProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Runs `node bin/warren.js ...args` with env on top of the test process's environment. */
export function warren(args: string[], env: Record<string, string> = {}): WarrenProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'warren.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    stdout: () => stdout,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** How long getJson waits for a whole answer unless the caller passes a signal of its own. */
const GET_JSON_TIMEOUT_MS = 60_000;

export interface ReadyOptions {
  /** Any answer of /readyz will do (200, or 503 while a dependency is away): it listens. */
  listening?: boolean;
  timeoutMs?: number;
  everyMs?: number;
  /** Fail as soon as the process exits (default); false keeps asking `base` (a replacement may answer). */
  failOnExit?: boolean;
}

/**
 * Waits until the warren process serving `base` answers /readyz with 200 (or, with `listening`,
 * at all); fails at once if the process exits first. Either failure carries its output.
 */
export async function untilReady(p: WarrenProcess, base: string, opts: ReadyOptions = {}): Promise<void> {
  const { listening = false, timeoutMs = 30_000, everyMs = 100, failOnExit = true } = opts;
  const what = `${base} ${listening ? 'listening' : 'ready'}`;
  let settled = false;
  const exited = p.exited.then((code) => {
    if (!settled && failOnExit) throw new Error(`${what}: the process exited with ${code} first`);
    return new Promise<void>(() => undefined); // the poll decides
  });
  try {
    await Promise.race([
      exited,
      waitFor(
        what,
        async () => {
          const st = (await getJson(`${base}/readyz`)).status;
          return listening ? st === 200 || st === 503 : st === 200;
        },
        timeoutMs,
        everyMs,
      ),
    ]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${p.output().slice(-4000)}`);
  } finally {
    settled = true;
  }
}

/** `warren ...args` (see warren()), once its /readyz at `base` answers (see untilReady). */
export async function startWarren(
  args: string[],
  env: Record<string, string>,
  base: string,
  opts: ReadyOptions = {},
): Promise<WarrenProcess> {
  const p = warren(args, env);
  await untilReady(p, base, opts);
  return p;
}

export async function getJson<T = unknown>(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: T }> {
  // A process that accepts the connection but never answers (stopped, or stuck) must fail the
  // request, naming it, rather than hold the test until the runner's timeout.
  const signal = init?.signal ?? AbortSignal.timeout(GET_JSON_TIMEOUT_MS);
  let text: string;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal });
    text = await res.text();
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err;
    throw new Error(`${init?.method ?? 'GET'} ${url}: no answer within ${GET_JSON_TIMEOUT_MS} ms`, {
      cause: err,
    });
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: body as T };
}

/** Publishes raw bodies to an exchange with confirms (a client outside Warren). */
export async function publishRaw(
  exchange: string,
  bodies: (string | Buffer)[],
  props: amqp.Options.Publish = {},
) {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    for (const b of bodies)
      ch.publish(exchange, '', Buffer.isBuffer(b) ? b : Buffer.from(b), { persistent: true, ...props });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

/** Consumers on a queue, or undefined when it is not declared (the broker answers 404). */
export async function consumerCount(queue: string): Promise<number | undefined> {
  const conn = await amqp.connect(AMQP_URL);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // the 404 closes the channel: a "not yet", not a failure
    return (await ch.checkQueue(queue)).consumerCount;
  } catch {
    return undefined;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Message count of a queue (declared passively). */
export async function queueDepth(queue: string): Promise<number> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(queue);
    return q.messageCount;
  } finally {
    await conn.close();
  }
}

export { tmpdir };

/** A fresh, empty PostgreSQL database for one test (`warren_<id>`); drop() removes it. */
export async function pgDatabase(
  id: string,
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const { default: pg } = await import('pg');
  const name = `warren_${id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  // FORCE ends sessions a killed child may have left behind (PostgreSQL 13+).
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
