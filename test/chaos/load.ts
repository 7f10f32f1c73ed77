// HTTP clients for the fault scenarios. HttpLoad is what a real client library does: it posts
// batches with an Idempotency-Key and retries a failed request (connection error, timeout, 429,
// 5xx) with the SAME key and body, moving to the next ingest instance, until it gets a 202; every
// id of a 202 is recorded. SdkLoad drives the project's own SDK (HTTP transport).
import { usuarioFor } from '../../src/clients/index.js';
import { newId } from '../../src/id.js';
import { BufferFullError, createClient } from '../../src/sdk/index.js';
import { sleep, within } from '../support/helpers.js';
import { USERS } from './knobs.js';

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
const EVENTOS = ['click', 'view', 'purchase'];
/** A request still failing after this long fails the scenario (instead of hanging it). */
const GIVE_UP_MS = 180_000;
/** How long a whole load may run past its planned duration and one request's give-up time. */
const LOAD_GRACE_MS = 5 * 60_000;

export interface HttpLoadOptions {
  /** Base URLs of the ingest instances (read at every attempt). */
  targets: () => string[];
  senders: number;
  perRequest: number;
  /** Events in total, in whole requests spread over the senders. */
  events: number;
  /** Events per second over all senders; 0 = as fast as the answers come. */
  rate: number;
  /** Sender i publishes as cliente `<prefix>_<i>`. */
  prefix: string;
  /** Unique per run: request r has the key `<keyPrefix>-<r>`. */
  keyPrefix: string;
  timeoutMs?: number;
}

class Fatal extends Error {}

export class HttpLoad {
  /** Ids answered with 202, per cliente. */
  readonly accepted = new Map<string, string[]>();
  /** Failed attempts by reason (status code or network error code). */
  readonly failures: Record<string, number> = {};
  /** Requests in flight per target. */
  readonly inflight = new Map<string, number>();
  attempts = 0;
  retries = 0;
  done: Promise<void> = Promise.resolve();
  private started = 0;

  constructor(private readonly o: HttpLoadOptions) {}

  /** Events this load sets out to send (whole requests). */
  get planned(): number {
    return this.o.events;
  }

  get confirmed(): number {
    let n = 0;
    for (const ids of this.accepted.values()) n += ids.length;
    return n;
  }

  start(): this {
    this.started = Date.now();
    // Its planned duration and a request's give-up time more (each request is bounded by
    // GIVE_UP_MS, but a scenario waiting on the whole load must not wait without a deadline).
    const plannedMs = this.o.rate > 0 ? (this.o.events / this.o.rate) * 1000 : 0;
    this.done = within(
      `the HTTP load (${this.o.events} events as ${this.o.prefix}_*) to be answered 202`,
      plannedMs + GIVE_UP_MS + LOAD_GRACE_MS,
      Promise.all(Array.from({ length: this.o.senders }, (_, i) => this.sender(i))).then(() => undefined),
    );
    this.done.catch(() => undefined); // awaited by the scenario
    return this;
  }

  private async sender(i: number): Promise<void> {
    const requests = Math.ceil(this.o.events / this.o.perRequest);
    const cliente = `${this.o.prefix}_${i}`;
    for (let r = i; r < requests; r += this.o.senders) {
      if (this.o.rate > 0) {
        const due = this.started + ((r * this.o.perRequest) / this.o.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      const n = Math.min(this.o.perRequest, this.o.events - r * this.o.perRequest);
      // The client stamps its events once; a retry sends the very same body.
      const at = new Date().toISOString();
      const key = `${this.o.keyPrefix}-${r}`;
      // Event k's id will be `<key>:<k>` (checkIds), so its usuario is known from it.
      const body = JSON.stringify(
        Array.from({ length: n }, (_, k) => ({
          cliente,
          evento: EVENTOS[(r + k) % 3],
          timestamp: at,
          usuario: usuarioFor(`${key}:${k}`, USERS),
        })),
      );
      const ids = await this.send(i, key, body, n);
      const list = this.accepted.get(cliente) ?? [];
      list.push(...ids);
      this.accepted.set(cliente, list);
    }
  }

  private async send(sender: number, key: string, body: string, n: number): Promise<string[]> {
    const first = Date.now();
    for (let attempt = 0; ; attempt++) {
      const targets = this.o.targets();
      const url = targets[(sender + attempt) % targets.length]!;
      this.attempts++;
      this.inflight.set(url, (this.inflight.get(url) ?? 0) + 1);
      let reason: string;
      let waitMs = Math.min(1000, 50 * 2 ** Math.min(attempt, 4));
      try {
        const res = await fetch(`${url}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
        });
        const text = await res.text();
        if (res.status === 202) return checkIds(key, n, text);
        if (!RETRYABLE.has(res.status)) throw new Fatal(`${url}/events answered ${res.status}: ${text}`);
        reason = String(res.status);
        const after = Number(res.headers.get('retry-after'));
        if (Number.isFinite(after) && after > 0) waitMs = Math.min(waitMs, after * 1000);
      } catch (err) {
        if (err instanceof Fatal) throw err;
        const e = err as Error & { cause?: { code?: string } };
        reason = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
      } finally {
        this.inflight.set(url, (this.inflight.get(url) ?? 1) - 1);
      }
      this.retries++;
      this.failures[reason] = (this.failures[reason] ?? 0) + 1;
      if (Date.now() - first > GIVE_UP_MS) {
        throw new Error(`request ${key} still failing after ${GIVE_UP_MS} ms (last: ${reason})`);
      }
      await sleep(waitMs);
    }
  }
}

/** A 202 names `<key>:<index>` for every event (CONTRACT.md, POST /events). */
function checkIds(key: string, n: number, text: string): string[] {
  const body = JSON.parse(text) as { accepted?: number; ids?: string[] };
  const ids = body.ids ?? [];
  const want = Array.from({ length: n }, (_, k) => `${key}:${k}`);
  if (body.accepted !== n || ids.length !== n || ids.some((id, k) => id !== want[k])) {
    throw new Fatal(`202 for ${key} did not name the ids <key>:<index>: ${text.slice(0, 300)}`);
  }
  return ids;
}

/** The project's SDK (HTTP transport) tracking `events` events at `rate` per second. */
export class SdkLoad {
  readonly ids: string[] = [];
  retries = 0;
  confirmed = 0;
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    readonly cliente: string,
    readonly planned: number,
    private readonly rate: number,
  ) {}

  start(): this {
    const plannedMs = this.rate > 0 ? (this.planned / this.rate) * 1000 : 0;
    this.done = within(
      `the SDK (${this.cliente}) to get ${this.planned} events confirmed`,
      plannedMs + GIVE_UP_MS + LOAD_GRACE_MS,
      this.run(),
    );
    this.done.catch(() => undefined);
    return this;
  }

  private async run(): Promise<void> {
    const client = createClient({
      transport: 'http',
      url: this.url,
      cliente: this.cliente,
      batchSize: 100,
      flushIntervalMs: 50,
      maxBufferEvents: 5000,
      backoff: { baseMs: 50, maxMs: 1000 },
    });
    client.on('retry', () => this.retries++);
    const started = Date.now();
    for (let i = 0; i < this.planned; ) {
      try {
        const id = newId();
        this.ids.push(client.track(EVENTOS[i % 3]!, { id, usuario: usuarioFor(id, USERS) }));
        i++;
      } catch (err) {
        if (!(err instanceof BufferFullError)) throw err;
        await client.waitForSpace();
      }
      if (i % 50 === 0 && this.rate > 0) {
        const due = started + (i / this.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
    await client.close();
    this.confirmed = client.stats.confirmed;
    if (client.stats.confirmed !== this.planned || client.stats.rejected !== 0) {
      throw new Error(`SDK: ${JSON.stringify(client.stats)} of ${this.planned} tracked`);
    }
  }
}

/** What the mixed load needs of a scenario: simulated clients as `warren client` children. */
interface ClientSpawner {
  te: { id: string };
  client(
    name: string,
    count: number,
    rate?: number,
  ): {
    name: string;
    done: Promise<number>;
    ids: () => string[];
    proc: { child: { exitCode: number | null } };
  };
}

/**
 * The load most scenarios run while faults land: two simulated clients as fast as confirms
 * allow, two paced over `seconds`, and two HTTP senders through ingest (same Idempotency-Key on
 * every retry). `simPlanned` is what the four simulated clients set out to send.
 */
export function mixedLoad<S extends ClientSpawner>(
  s: S,
  o: { prefix: string; ingestBase: string; fast: number; paced: number; httpEvents: number; seconds: number },
) {
  const rate = Math.ceil(o.paced / o.seconds);
  const clients = [
    s.client(`${o.prefix}_fast_1`, o.fast),
    s.client(`${o.prefix}_fast_2`, o.fast),
    s.client(`${o.prefix}_paced_1`, o.paced, rate),
    s.client(`${o.prefix}_paced_2`, o.paced, rate),
  ];
  const http = new HttpLoad({
    targets: () => [o.ingestBase],
    senders: 2,
    perRequest: 50,
    events: o.httpEvents,
    rate: o.httpEvents / o.seconds,
    prefix: `${o.prefix}_http`,
    keyPrefix: s.te.id,
  }).start();
  return { clients, http, simPlanned: 2 * o.fast + 2 * o.paced };
}
