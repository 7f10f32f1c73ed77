// One webhook call and what its answer means (README "Alerts" > "Delivery"). The body goes out
// byte for byte as analytics rendered and signed it; the deliverer never re-serializes it, or the
// signature would no longer match.
import { type AlertMessage, SIGNATURE_HEADER } from '../alert.js';

export const ALERT_ID_HEADER = 'X-Warren-Alert-Id';

export type Attempt =
  | { ok: true; status: number; ms: number }
  | {
      ok: false;
      /** The HTTP status, when the receiver answered. */
      status?: number;
      /** Why, for a person: `HTTP 500`, `timed out after 10000 ms`, `connection refused (ECONNREFUSED)`. */
      error: string;
      /** Trying again cannot help (a 4xx other than 408 and 429, a redirect, a request we cannot build). */
      permanent: boolean;
      /** The receiver's Retry-After, in ms, when it sent one. */
      retryAfterMs?: number;
      ms: number;
    };

/** The host of a webhook URL, for logs and dead-letter headers: its path may hold a token (Slack's does). */
export function urlHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * The request, or why it cannot be built: a URL the WHATWG parser refuses, or an alert id that is
 * not a legal header value (CR, LF, non-Latin-1). Either is the message's fault: permanent.
 */
export function prepare(m: AlertMessage): { url: URL; headers: Headers } | { error: string } {
  let url: URL;
  try {
    url = new URL(m.url);
  } catch {
    return { error: 'the webhook URL is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { error: `the webhook URL's scheme ${url.protocol} is not http or https` };
  let headers: Headers;
  try {
    headers = new Headers({
      'content-type': 'application/json',
      'user-agent': 'warren-alerts',
      [SIGNATURE_HEADER]: m.signature,
      [ALERT_ID_HEADER]: m.alert.id,
    });
  } catch {
    return { error: 'the alert id cannot be sent as an HTTP header value' };
  }
  // fetch refuses a URL with credentials (WHATWG Fetch); they become basic auth, as curl does.
  if (url.username || url.password) {
    let user: string;
    try {
      user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    } catch {
      return { error: "the webhook URL's user or password is not valid percent-encoding" };
    }
    headers.set('authorization', `Basic ${Buffer.from(user, 'utf8').toString('base64')}`);
    url.username = '';
    url.password = '';
  }
  return { url, headers };
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A status that retrying may fix: 408 and 429 (the receiver asks for it), and every 5xx. */
export function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function networkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause;
  if (cause?.code) return `network error: ${cause.message ?? cause.code} (${cause.code})`;
  return `network error: ${cause?.message ?? e?.message ?? String(err)}`;
}

/** POSTs the message's body to its URL within timeoutMs; never throws. */
export async function post(m: AlertMessage, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const req = prepare(m);
  if ('error' in req) return { ok: false, error: req.error, permanent: true, ms: 0 };
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: m.body,
      // A redirect is not followed: the POST would be replayed to a host the rule never named.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, error: networkError(err, timeoutMs), permanent: false, ms: ms() };
  }
  // The answer's body is not needed; dropping it frees the connection at once.
  await res.body?.cancel().catch(() => undefined);
  const status = res.status;
  if (status >= 200 && status < 300) return { ok: true, status, ms: ms() };
  const after = retryAfterMs(res.headers.get('retry-after'));
  return {
    ok: false,
    status,
    error: `HTTP ${status}`,
    permanent: !retryable(status),
    ...(after === undefined ? {} : { retryAfterMs: after }),
    ms: ms(),
  };
}

/**
 * The wait before the next attempt: base doubled per failed attempt, capped, with jitter (half
 * fixed, half random, so receivers coming back are not hit by every deliverer at once). A
 * receiver's Retry-After is honoured up to the cap.
 */
export function backoff(
  attempts: number,
  opts: { baseMs: number; maxMs: number; retryAfterMs?: number | undefined },
  random = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempts - 1, 30));
  const jittered = exp / 2 + (random() * exp) / 2;
  return Math.round(Math.min(opts.maxMs, Math.max(jittered, opts.retryAfterMs ?? 0)));
}
