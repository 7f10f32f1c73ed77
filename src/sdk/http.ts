// The HTTP transport: POST /events on the ingest gateway (or Traefik in front of it). 202 means the
// broker confirmed every event. A 503 or a timeout may hide a publish that did happen, so a batch
// is always retried with the SAME ids (the consumer counts an id once per client) — DESIGN.md, "The HTTP gateway".
import { type BackoffOptions, parseRetryAfter, retryDelayMs, sleep } from './backoff.js';
import { RejectedError } from './errors.js';
import type { OnRetry, SdkEvent, Transport } from './transport.js';

export interface HttpTransportOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:5046 or https://warren.example.com. */
  url: string;
  /** Keyed mode: sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** One request's limit, confirms included (the gateway waits up to PUBLISH_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
}

/** Worth another try with the same ids: overload, rate limit, gateway or broker trouble. */
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

interface ErrorBody {
  error?: unknown;
  message?: unknown;
  details?: unknown;
}

function readError(text: string): { code: string; message: string; details: unknown[] } {
  try {
    const b = JSON.parse(text) as ErrorBody;
    return {
      code: typeof b.error === 'string' ? b.error : 'unknown',
      message: typeof b.message === 'string' ? b.message : text.slice(0, 200),
      details: Array.isArray(b.details) ? b.details : [],
    };
  } catch {
    return { code: 'unknown', message: text.slice(0, 200), details: [] };
  }
}

const FIX: Record<number, string> = {
  400: 'fix the events named in details (the SDK checks names, so this is usually a cliente the gateway could not fill: set `cliente` or an apiKey)',
  401: 'set `apiKey` to a key made with `warren keys add <cliente>`',
  403: "this API key belongs to another client: use the key's own cliente",
  404: 'check `url`: it is the base URL of the ingest gateway (the SDK adds /events)',
  413: 'lower maxBatchBytes below the gateway limit (INGEST_BODY_LIMIT)',
};

export function endpointOf(url: string): string {
  return `${url.replace(/\/+$/, '')}/events`;
}

export function httpTransport(opts: HttpTransportOptions, onRetry: OnRetry): Transport {
  const endpoint = endpointOf(opts.url);
  const timeoutMs = opts.requestTimeoutMs ?? 15_000;
  const backoff: BackoffOptions = { baseMs: 200, maxMs: 30_000, ...opts.backoff };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;

  /** One request: undefined when accepted; the reason and the server's wish when worth retrying. */
  async function attempt(
    events: SdkEvent[],
    body: string,
    signal: AbortSignal,
  ): Promise<{ reason: string; retryAfterMs?: number } | undefined> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return {
        reason: `${(err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message}${cause ? ` (${cause})` : ''}`,
      };
    }
    if (res.status === 202 || res.status === 200) return undefined;
    const e = readError(text);
    if (RETRYABLE.has(res.status)) {
      return {
        reason: `HTTP ${res.status} ${e.code}`,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      };
    }
    const fix = FIX[res.status] ?? 'see the server message';
    throw new RejectedError(
      res.status,
      e.code,
      `the gateway refused ${events.length} events with HTTP ${res.status} ${e.code}: ${e.message} Fix: ${fix}.`,
      events,
      e.details,
    );
  }

  return {
    kind: 'http',
    async send(events, signal) {
      const body = JSON.stringify(events);
      for (let n = 0; ; n++) {
        const failed = await attempt(events, body, signal);
        if (!failed) return;
        const delayMs = retryDelayMs(n, failed.retryAfterMs, backoff);
        onRetry({ attempt: n, reason: failed.reason, delayMs, events: events.length });
        await sleep(delayMs, signal);
      }
    },
    async close() {},
  };
}
